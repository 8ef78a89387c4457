"""The figures of the statistics page and of the yearly report, one function per table. Every count
is made by the database (GROUP BY, COUNT, SUM): no function here loads the rows it counts, so the
page stays quick with a hundred thousand subscribers. Only aggregates come back to Python.

Nothing here reads a click, an open or anything a person did with a letter beyond the unsubscribe
link they followed (which names the letter, see subscribers/services.unsubscribe)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import DateTime, Text, and_, bindparam, case, cast, distinct, func, select, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from contributions.models import (
    KIND_LABELS,
    STATUS_LABELS,
    Contribution,
    ContributionKind,
    ContributionStatus,
    ContributionTransition,
    Structure,
)
from core.db import utcnow
from events.models import Event, EventStatus, EventType, Registration, RegistrationStatus
from mailing.models import Delivery, DeliveryStatus
from newsletter.models import Issue, IssueKind, IssueStatus
from parentalites.statistics.period import Period
from parentalites.statistics.sql import seconds_between
from parentalites.statistics.tables import Table, format_figure, median, top_with_rest
from subscribers.models import (
    ROLES,
    TOPICS,
    UNSUBSCRIBED_FROM_ISSUE,
    Bounce,
    BounceKind,
    ConsentRecord,
    Subscriber,
    SubscriberStatus,
)

TOP = 15  # rows of a breakdown before « Autres »
DECISIONS = (ContributionStatus.accepted.value, ContributionStatus.rejected.value,
             ContributionStatus.changes_requested.value)
SENT_ISSUES = (IssueStatus.sending, IssueStatus.paused, IssueStatus.sent, IssueStatus.cancelled)


def event_type_labels() -> dict[str, str]:
    return {EventType.soiree_reaap.value: _("Soirée du Réaap"),
            EventType.journee_porteurs.value: _("Journée des porteurs de projet"),
            EventType.rencontre_clas.value: _("Rencontre CLAS"),
            EventType.formation.value: _("Formation"),
            EventType.autre.value: _("Autre")}


def _in(column, period: Period):
    return and_(column >= period.start, column < period.end)


def _by(db: Session, stmt) -> dict:
    return {key: count for key, count in db.execute(stmt).all()}


def _monthly(db: Session, period: Period, series: dict[str, tuple]) -> dict[str, dict[str, int]]:
    """Counts per month of several series read in ONE scan of their table. Each series is a
    timestamp column and the conditions a row must meet; the answer is {series: {"YYYY-MM": n,
    "before": n}}, "before" counting the rows before the period. Months are cut at Paris midnights
    by comparisons with bounds computed here, so both databases agree."""
    bounds = period.month_bounds()
    if db.get_bind().dialect.name == "postgresql":
        return _monthly_postgresql(db, period, series)
    columns, keys = [], []
    for name, (column, *conditions) in series.items():
        columns.append(func.count().filter(and_(column < period.start, *conditions)))
        keys.append((name, "before"))
        for month, first, after in bounds:
            columns.append(func.count().filter(and_(column >= first, column < after, *conditions)))
            keys.append((name, month))
    row = db.execute(select(*columns)).one()
    counts: dict[str, dict[str, int]] = {name: {} for name in series}
    for (name, month), value in zip(keys, row, strict=True):
        counts[name][month] = value or 0
    return counts


def _monthly_postgresql(db: Session, period: Period, series: dict[str, tuple]) -> dict[str, dict[str, int]]:
    """The same on PostgreSQL, cheaper per row: each row's month is found once per series by
    width_bucket over the months' bounds (0: before the period)."""
    bounds = period.month_bounds()
    edges = bindparam("edges", [first for _, first, _ in bounds] + [period.end],
                      type_=postgresql.ARRAY(DateTime(timezone=True)))
    buckets = []
    for name, (column, *conditions) in series.items():
        bucket = func.width_bucket(column, edges)
        buckets.append((case((and_(*conditions), bucket)) if conditions else bucket).label(name))
    inner = select(*buckets).subquery()
    columns = [inner.c[name] for name in series]
    # One GROUP BY over the combinations of buckets (a few hundred at most), added up per series here.
    stmt = select(*columns, func.count()).group_by(*columns)
    months = ["before"] + [month for month, _, _ in bounds]
    counts: dict[str, dict[str, int]] = {name: dict.fromkeys(months, 0) for name in series}
    names = list(series)
    for row in db.execute(stmt):
        count = row[-1]
        for name, bucket in zip(names, row[:-1], strict=True):
            if bucket is not None and 0 <= bucket < len(months):
                counts[name][months[bucket]] += count
    return counts


# --- Subscribers ---------------------------------------------------------------------------------

def _started():
    """When a subscriber began to receive the letter (a pending one never did)."""
    return func.coalesce(Subscriber.confirmed_at, Subscriber.created_at)


def _left():
    """When a subscriber who no longer receives the letter stopped."""
    return case((Subscriber.status == SubscriberStatus.unsubscribed, Subscriber.unsubscribed_at),
                (Subscriber.status == SubscriberStatus.suppressed, Subscriber.suppressed_at))


def _subscriber_months_postgresql(db: Session, period: Period) -> dict[str, dict[str, int]]:
    """_monthly's five series of the subscribers, cheaper per row: grouped by status and four
    buckets (width_bucket: 0 before the period), the status deciding here which bucket is a start and
    which a departure, instead of two CASE and a fifth bucket for each of the 100,000 rows. Read from
    the covering index ix_subscribers_statistics (migration 0015_statsperf), not from the table."""
    bounds = period.month_bounds()
    edges = bindparam("edges", [first for _, first, _ in bounds] + [period.end],
                      type_=postgresql.ARRAY(DateTime(timezone=True)))
    columns = [Subscriber.status] + [func.width_bucket(column, edges) for column in (
        _started(), Subscriber.created_at, Subscriber.unsubscribed_at, Subscriber.suppressed_at)]
    months = ["before"] + [month for month, _, _ in bounds]
    counts: dict[str, dict[str, int]] = {name: dict.fromkeys(months, 0) for name in
                                         ("started", "left", "new", "unsubscribed", "suppressed")}

    def add(series: str, bucket: int | None, count: int) -> None:
        if bucket is not None and 0 <= bucket < len(months):
            counts[series][months[bucket]] += count

    # Every status (a condition always true) lets the planner read the covering index
    # ix_subscribers_statistics rather than the table: a third faster.
    rows = db.execute(select(*columns, func.count()).where(Subscriber.status.in_(list(SubscriberStatus)))
                      .group_by(*columns))
    for row in rows:
        status, started, created, unsubscribed, suppressed, count = tuple(row)
        add("new", created, count)
        add("unsubscribed", unsubscribed, count)
        add("suppressed", suppressed, count)
        if status != SubscriberStatus.pending:
            add("started", started, count)
            add("left", {SubscriberStatus.unsubscribed: unsubscribed,
                         SubscriberStatus.suppressed: suppressed}.get(status), count)
    return counts


def subscribers_by_month(db: Session, period: Period) -> Table:
    """Active at the end of each month, new, unsubscribed and suppressed in the month. The active
    count is rebuilt from the dates each subscriber carries (started, left), so a subscriber who
    left and came back counts from their last start."""
    if db.get_bind().dialect.name == "postgresql":
        counts = _subscriber_months_postgresql(db, period)
    else:
        receiving = Subscriber.status != SubscriberStatus.pending
        counts = _monthly(db, period, {
            "started": (_started(), receiving), "left": (_left(), receiving), "new": (Subscriber.created_at,),
            "unsubscribed": (Subscriber.unsubscribed_at,), "suppressed": (Subscriber.suppressed_at,),
        })
    started, left, new = counts["started"], counts["left"], counts["new"]
    unsubscribed, suppressed = counts["unsubscribed"], counts["suppressed"]
    active = started["before"] - left["before"]
    rows: list[list] = []
    for month in period.months():
        active += started.get(month, 0) - left.get(month, 0)
        rows.append([month, active, new.get(month, 0), unsubscribed.get(month, 0), suppressed.get(month, 0)])
    last = active
    total_new = sum(new.get(month, 0) for month in period.months())
    total_gone = sum(unsubscribed.get(month, 0) + suppressed.get(month, 0) for month in period.months())
    return Table(
        "abonnes_par_mois", _("Abonnés, mois par mois"),
        _("Abonnés actifs à la fin de la période : %(active)s. Nouvelles inscriptions : %(new)s. Départs "
          "(désabonnements et adresses suspendues) : %(gone)s.", active=last, new=total_new, gone=total_gone),
        [_("Mois"), _("Actifs en fin de mois"), _("Nouveaux"), _("Désabonnés"), _("Suspendus")], rows,
        chart="line")


def _active_at_end(period: Period):
    """Active now and already there at the end of the period (for a period that reaches today,
    the status alone: the counts come from the status indexes)."""
    if period.end > utcnow():
        return Subscriber.status == SubscriberStatus.active
    return and_(Subscriber.status == SubscriberStatus.active, Subscriber.created_at < period.end)


@dataclass
class ActiveBreakdown:
    """The active subscribers counted by role, département, commune and topic, from one scan."""
    by_role: dict[str | None, int]
    by_departement: dict[str | None, int]
    by_commune: dict[str | None, int]
    no_topic: int
    by_topic: dict[str, int]

    def add_place(self, role: str | None, departement: str | None, commune: str | None, count: int) -> None:
        self.by_role[role] = self.by_role.get(role, 0) + count
        self.by_departement[departement] = self.by_departement.get(departement, 0) + count
        self.by_commune[commune] = self.by_commune.get(commune, 0) + count

    def add_topics(self, topics: str | None, count: int) -> None:
        """`count` subscribers whose list of topics is this JSON text. A topic is its key in quotes
        (no topic key holds another); no quote at all: no topic chosen (they receive everything)."""
        if topics is None or '"' not in topics:
            self.no_topic += count
            return
        for topic in TOPICS:
            if f'"{topic}"' in topics:
                self.by_topic[topic] += count


def active_breakdown(db: Session, period: Period) -> ActiveBreakdown:
    """The active subscribers grouped by (role, département, commune) and, apart, by their list of
    topics as stored (JSON text: a few hundred distinct lists), whose keys are read here. Only
    count(*) per row: on PostgreSQL one pass feeds both groupings (GROUPING SETS), an index-only scan
    of ix_subscribers_statistics; on SQLite two queries. Four tables for one scan, kept for the
    request (session.info)."""
    key = ("statistics.active_breakdown", period.first, period.last)
    if key in db.info:
        return db.info[key]
    places = (Subscriber.role, Subscriber.departement, Subscriber.commune)
    topics = cast(Subscriber.topics, Text).label("topics")
    breakdown = ActiveBreakdown({}, {}, {}, 0, dict.fromkeys(TOPICS, 0))
    if db.get_bind().dialect.name == "postgresql":
        rows = db.execute(select(*places, topics, func.grouping(topics), func.count())
                          .where(_active_at_end(period))
                          .group_by(func.grouping_sets(tuple_(*places), tuple_(topics))))
        for role, departement, commune, topic_list, by_place, count in rows:
            if by_place:  # the lists of topics are not in this grouping
                breakdown.add_place(role, departement, commune, count)
            else:
                breakdown.add_topics(topic_list, count)
    else:
        for role, departement, commune, count in db.execute(
                select(*places, func.count()).where(_active_at_end(period)).group_by(*places)):
            breakdown.add_place(role, departement, commune, count)
        for topic_list, count in db.execute(select(topics, func.count()).where(_active_at_end(period))
                                            .group_by(topics)):
            breakdown.add_topics(topic_list, count)
    db.info[key] = breakdown
    return breakdown


def subscribers_by_topic(db: Session, period: Period) -> Table:
    counts = active_breakdown(db, period)
    rows = [[_("Tous les thèmes (aucun choisi)"), counts.no_topic]]
    rows += [[_(label), counts.by_topic[topic]] for topic, label in TOPICS.items()]
    return Table("abonnes_par_theme", _("Abonnés actifs par thème"),
                 _("Un abonné qui a choisi plusieurs thèmes compte dans chacun ; sans thème choisi, il reçoit tout."),
                 [_("Thème"), _("Abonnés actifs")], rows, chart="hbar")


def subscribers_by_role(db: Session, period: Period) -> Table:
    counts = active_breakdown(db, period).by_role
    rows = [[_(ROLES.get(role, role)) if role else _("Non renseignée"), count] for role, count in counts.items()]
    rows.sort(key=lambda r: -r[1])
    return Table("abonnes_par_fonction", _("Abonnés actifs par fonction"),
                 _("La fonction que chaque abonné a déclarée."), [_("Fonction"), _("Abonnés actifs")], rows,
                 chart="hbar")


def subscribers_by_commune(db: Session, period: Period) -> Table:
    counts = active_breakdown(db, period).by_commune
    pairs = [(commune or _("Non renseignée"), count) for commune, count in counts.items()]
    return Table("abonnes_par_commune", _("Abonnés actifs par commune"),
                 _("Les %(n)s communes qui comptent le plus d'abonnés, puis les autres ensemble.", n=TOP),
                 [_("Commune"), _("Abonnés actifs")], top_with_rest(pairs, TOP, _("Autres communes")), chart="hbar")


def subscribers_by_departement(db: Session, period: Period) -> Table:
    counts = active_breakdown(db, period).by_departement
    pairs = [(code or _("Non renseigné"), count) for code, count in counts.items()]
    return Table("abonnes_par_departement", _("Abonnés actifs par département"),
                 _("Le département où chaque abonné travaille (son code)."),
                 [_("Département"), _("Abonnés actifs")], top_with_rest(pairs, TOP, _("Autres départements")),
                 chart="hbar")


# --- Letters and invitations ----------------------------------------------------------------------

def _sent_in(period: Period):
    started = func.coalesce(Issue.send_started_at, Issue.sent_at)
    return and_(Issue.kind.in_((IssueKind.letter, IssueKind.invitation)), Issue.status.in_(SENT_ISSUES),
                _in(started, period))


def mailouts(db: Session, period: Period) -> Table:
    """Per letter and invitation sent in the period: messages sent, failed, bounces (hard, soft),
    complaints, and the unsubscribes that came through that letter's own link."""
    issues = db.execute(select(Issue.id, Issue.kind, Issue.numero, Issue.title,
                               func.coalesce(Issue.send_started_at, Issue.sent_at).label("at"))
                        .where(_sent_in(period)).order_by("at", Issue.id)).all()
    ids = select(Issue.id).where(_sent_in(period)).scalar_subquery()
    deliveries = db.execute(select(Delivery.issue_id, Delivery.status, func.count())
                            .where(Delivery.issue_id.in_(ids)).group_by(Delivery.issue_id, Delivery.status)).all()
    # From the few bounces received since the period began, each finding its delivery's issue by
    # the delivery's key (a correlated subquery: the planner otherwise hashes every delivery). A
    # bounce without a delivery gets no issue, and is counted for none, as with a join.
    bounce_issue = (select(Delivery.issue_id).where(Delivery.id == Bounce.delivery_id)
                    .scalar_subquery().label("issue_id"))
    bounces = db.execute(select(bounce_issue, Bounce.kind, func.count())
                         .where(Bounce.received_at >= period.start, Bounce.kind.in_(
                             (BounceKind.hard, BounceKind.soft, BounceKind.complaint)))
                         .group_by(bounce_issue, Bounce.kind)).all()
    from_issue = ConsentRecord.details[UNSUBSCRIBED_FROM_ISSUE].as_integer().label("issue_id")
    unsubscribes = _by(db, select(from_issue, func.count())
                       .where(ConsentRecord.action.like("unsubscribe:%"), ConsentRecord.at >= period.start)
                       .group_by(from_issue))
    sent = {(issue_id, DeliveryStatus(status)): n for issue_id, status, n in deliveries}
    bounced = {(i, BounceKind(k)): n for i, k, n in bounces}
    rows = []
    for issue in issues:
        if issue.kind is IssueKind.letter:
            label = _("Lettre n°%(n)s", n=issue.numero) if issue.numero else _("Lettre « %(t)s »", t=issue.title)
        else:
            label = _("Invitation « %(t)s »", t=issue.title)
        rows.append([f"{label} ({issue.at.date().isoformat()})",
                     sent.get((issue.id, DeliveryStatus.sent), 0), sent.get((issue.id, DeliveryStatus.failed), 0),
                     bounced.get((issue.id, BounceKind.hard), 0), bounced.get((issue.id, BounceKind.soft), 0),
                     bounced.get((issue.id, BounceKind.complaint), 0), unsubscribes.get(issue.id, 0)])
    letters = sum(1 for issue in issues if issue.kind is IssueKind.letter)
    return Table(
        "envois", _("Lettres et invitations envoyées"),
        _("Lettres envoyées : %(letters)s ; invitations : %(invitations)s ; messages remis : %(sent)s. Les "
          "désabonnements comptés sont ceux faits par le lien de ce message.", letters=letters,
          invitations=len(issues) - letters, sent=sum(r[1] for r in rows)),
        [_("Envoi"), _("Envoyés"), _("Échecs"), _("Rebonds définitifs"), _("Rebonds temporaires"), _("Plaintes"),
         _("Désabonnements par son lien")], rows, chart="hbar" if len(rows) > 6 else "bar")


def letters_reach(db: Session, period: Period) -> tuple[int, int, int]:
    """Letters (numéros) sent in the period, messages delivered, distinct subscribers reached."""
    letters = and_(_sent_in(period), Issue.kind == IssueKind.letter)
    count = db.scalar(select(func.count()).where(letters)) or 0
    sent, people = db.execute(select(func.count(), func.count(distinct(Delivery.subscriber_id)))
                              .join(Issue, Issue.id == Delivery.issue_id)
                              .where(letters, Delivery.status == DeliveryStatus.sent)).one()
    return count, sent or 0, people or 0


# --- Events ---------------------------------------------------------------------------------------

def _held_in(period: Period):
    return and_(_in(Event.starts_at, period), Event.status != EventStatus.cancelled)


@dataclass
class HeldEvent:
    title: str
    type: EventType
    starts_at: datetime
    registered: int  # people, confirmed
    waiting: int     # people, waitlisted
    present: int     # people marked present


def held_events(db: Session, period: Period) -> list[HeldEvent]:
    """The events held in the period with their counts of people, in one query (an outer join
    grouped by event), kept for the request: the per-event table and the per-type one share it."""
    key = ("statistics.held_events", period.first, period.last)
    if key in db.info:
        return db.info[key]
    confirmed = Registration.status == RegistrationStatus.confirmed
    people = func.sum(Registration.party_size)
    rows = db.execute(
        select(Event.title, Event.type, Event.starts_at, people.filter(confirmed),
               people.filter(Registration.status == RegistrationStatus.waitlisted),
               people.filter(confirmed, Registration.attended.is_(True)))
        .outerjoin(Registration, Registration.event_id == Event.id).where(_held_in(period))
        .group_by(Event.id, Event.title, Event.type, Event.starts_at).order_by(Event.starts_at, Event.id))
    events = [HeldEvent(title, EventType(type_), starts_at, int(registered or 0), int(waiting or 0),
                        int(present or 0)) for title, type_, starts_at, registered, waiting, present in rows]
    db.info[key] = events
    return events


def events_table(db: Session, period: Period) -> Table:
    labels = event_type_labels()
    rows = [[f"{e.title} ({e.starts_at.date().isoformat()})", labels[e.type.value], e.registered, e.waiting,
             e.present] for e in held_events(db, period)]
    return Table("evenements", _("Événements tenus et leur fréquentation"),
                 _("Événements dans la période (hors annulés) : %(n)s. Les chiffres comptent des personnes "
                   "(une inscription peut en amener plusieurs) ; la présence est celle que la rédaction a pointée.",
                   n=len(rows)),
                 [_("Événement"), _("Type"), _("Inscrits"), _("Liste d'attente"), _("Présents")], rows, chart="none")


def events_by_type(db: Session, period: Period) -> Table:
    totals = {key: [0, 0, 0] for key in event_type_labels()}
    for event in held_events(db, period):
        total = totals[event.type.value]
        total[0] += 1
        total[1] += event.registered
        total[2] += event.present
    rows: list[list] = [[label, *totals[key]] for key, label in event_type_labels().items()]
    return Table("evenements_par_type", _("Rencontres par type"),
                 _("Rencontres d'échange tenues : %(n)s, ici par type (l'indicateur de réalisation du schéma "
                   "départemental).", n=sum(total[0] for total in totals.values())),
                 [_("Type"), _("Événements"), _("Inscrits"), _("Présents")], rows, chart="bar")


def _registrations_by(db: Session, period: Period, column, key: str, title: str, what: str) -> Table:
    label = func.trim(column).label("label")
    counts = _by(db, select(label, func.coalesce(func.sum(Registration.party_size), 0))
                 .join(Event, Event.id == Registration.event_id)
                 .where(_held_in(period), Registration.status == RegistrationStatus.confirmed).group_by(label))
    pairs = [(name or _("Non renseigné"), int(count)) for name, count in counts.items()]
    return Table(key, title, _("Personnes inscrites (confirmées) aux événements de la période, par %(what)s.",
                               what=what),
                 [what.capitalize(), _("Inscrits")], top_with_rest(pairs, TOP, _("Autres")), chart="hbar")


def registrations_by_structure(db: Session, period: Period) -> Table:
    return _registrations_by(db, period, Registration.structure, "inscrits_par_structure",
                             _("Inscrits par structure"), _("structure"))


def registrations_by_role(db: Session, period: Period) -> Table:
    return _registrations_by(db, period, Registration.role, "inscrits_par_fonction",
                             _("Inscrits par fonction"), _("fonction"))


# --- Contributions and partners -------------------------------------------------------------------

def _submitted_in(period: Period):
    return _in(Contribution.submitted_at, period)


def contributions_by_structure(db: Session, period: Period) -> Table:
    counts = db.execute(select(Structure.name, func.count(Contribution.id))
                        .join(Structure, Structure.id == Contribution.structure_id)
                        .where(_submitted_in(period)).group_by(Structure.id, Structure.name)).all()
    return Table("contributions_par_structure", _("Contributions par structure"),
                 _("Structures qui ont proposé des contributions dans la période : %(n)s ; contributions : %(c)s.",
                   n=len(counts), c=sum(count for _name, count in counts)),
                 [_("Structure"), _("Contributions")],
                 top_with_rest([(name, count) for name, count in counts], TOP, _("Autres structures")), chart="hbar")


def contributions_by_kind(db: Session, period: Period) -> Table:
    counts = _by(db, select(Contribution.kind, func.count()).where(_submitted_in(period)).group_by(Contribution.kind))
    rows = [[_(label), counts.get(kind, 0)] for kind, label in KIND_LABELS.items()]
    return Table("contributions_par_nature", _("Contributions par nature"),
                 _("Ce que les partenaires ont proposé : actualités, événements, fiches action, ressources, "
                   "appels à projets."), [_("Nature"), _("Contributions")], rows, chart="bar")


def contributions_by_status(db: Session, period: Period) -> Table:
    counts = _by(db, select(Contribution.status, func.count()).where(_submitted_in(period))
                 .group_by(Contribution.status))
    rows = [[_(label), counts.get(status, 0)] for status, label in STATUS_LABELS.items()
            if status is not ContributionStatus.draft]
    return Table("contributions_par_statut", _("Contributions par statut"),
                 _("Où en sont aujourd'hui les contributions proposées dans la période."),
                 [_("Statut"), _("Contributions")], rows, chart="bar")


def _decision_times(db: Session, period: Period) -> dict[ContributionKind | None, tuple[int, float | None]]:
    """{kind (None: every kind): (contributions decided, median seconds from submission to the
    first decision)} for the contributions submitted in the period. PostgreSQL computes the medians
    (percentile_cont, ROLLUP for the total); SQLite sorts and Python reads the one or two middle
    values. No row is loaded to be counted."""
    first = (select(ContributionTransition.contribution_id.label("cid"),
                    func.min(ContributionTransition.at).label("decided_at"))
             .join(Contribution, Contribution.id == ContributionTransition.contribution_id)
             .where(ContributionTransition.to_status.in_(DECISIONS), _submitted_in(period),
                    ContributionTransition.at >= Contribution.submitted_at)
             .group_by(ContributionTransition.contribution_id).subquery())
    delay = seconds_between(first.c.decided_at, Contribution.submitted_at).label("delay")
    if db.get_bind().dialect.name == "postgresql":
        rows = db.execute(select(Contribution.kind, func.count(), func.percentile_cont(0.5).within_group(delay))
                          .join(first, first.c.cid == Contribution.id).group_by(func.rollup(Contribution.kind)))
        return {kind: (count, float(value) if value is not None else None) for kind, count, value in rows}
    base = select(delay).join(first, first.c.cid == Contribution.id)
    result: dict[ContributionKind | None, tuple[int, float | None]] = {}
    for kind in [None, *KIND_LABELS]:
        stmt = base if kind is None else base.where(Contribution.kind == kind)
        count = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        if count:
            middle = db.scalars(stmt.order_by(delay).offset((count - 1) // 2).limit(2 - count % 2)).all()
            result[kind] = (count, median(list(middle)))
    return result


def decision_times(db: Session, period: Period) -> Table:
    """The median time from submission to decision, for every kind and per kind."""
    times = _decision_times(db, period)
    rows = []
    for kind, label in [(None, _("Toutes"))] + list(KIND_LABELS.items()):
        count, value = times.get(kind, (0, None))
        if kind is None or count:
            rows.append([_(label) if kind else label, count, round(value / 86400, 1) if value is not None else ""])
    overall = rows[0][2]
    return Table("delai_de_decision", _("Délai de décision"),
                 _("Délai médian entre l'envoi d'une contribution et la première décision de la rédaction "
                   "(acceptée, refusée ou modifications demandées), en jours : %(days)s.", days=format_figure(overall))
                 if overall != "" else _("Aucune contribution de la période n'a encore reçu de décision."),
                 [_("Nature"), _("Contributions décidées"), _("Délai médian (jours)")], rows,
                 chart="hbar", chart_columns=[2])


def partners(db: Session, period: Period) -> Table:
    """Structures: how many at the start and at the end, new ones, those that contributed or
    whose people came to an event (by the structure's name as registrants typed it)."""
    counts = _monthly(db, period, {"new": (Structure.created_at,)})
    new = counts["new"]
    total_before = new["before"]
    # Distinct structures a month: one scan, one filtered count(DISTINCT …) a month.
    bounds = period.month_bounds()
    distinct_counts = db.execute(select(*[
        func.count(distinct(Contribution.structure_id)).filter(
            Contribution.submitted_at >= first, Contribution.submitted_at < after)
        for _month, first, after in bounds]).where(_submitted_in(period))).one()
    contributing = {month: n for (month, _first, _after), n in zip(bounds, distinct_counts, strict=True)}
    rows, total = [], total_before
    for month in period.months():
        total += new.get(month, 0)
        rows.append([month, total, new.get(month, 0), contributing.get(month, 0)])
    active = db.scalar(select(func.count(distinct(Contribution.structure_id))).where(_submitted_in(period))) or 0
    new_total = sum(new[month] for month in period.months())
    return Table("partenaires", _("Structures partenaires"),
                 _("Structures partenaires au début de la période : %(before)s ; à la fin : %(after)s (nouvelles : "
                   "%(new)s). Structures qui ont proposé au moins une contribution : %(active)s.",
                   before=total_before, after=total, new=new_total, active=active),
                 [_("Mois"), _("Structures"), _("Nouvelles structures"), _("Structures qui ont contribué")], rows,
                 chart="line")


def new_structures(db: Session, period: Period) -> Table:
    rows = [[name, created_at.date().isoformat()] for name, created_at in db.execute(
        select(Structure.name, Structure.created_at).where(_in(Structure.created_at, period))
        .order_by(Structure.created_at))]
    return Table("nouvelles_structures", _("Nouvelles structures"),
                 _("Structures arrivées dans le réseau pendant la période : %(n)s.", n=len(rows)),
                 [_("Structure"), _("Arrivée le")], rows, chart="none")


def fiches_action(db: Session, period: Period) -> Table:
    counts = _by(db, select(Contribution.status, func.count())
                 .where(Contribution.kind == ContributionKind.fiche_action, _in(Contribution.created_at, period))
                 .group_by(Contribution.status))
    rows = [[_(label), counts.get(status, 0)] for status, label in STATUS_LABELS.items() if counts.get(status)]
    return Table("fiches_action", _("Fiches action ajoutées"),
                 _("Fiches action ajoutées dans la période (proposées par les partenaires ou importées) : %(n)s, "
                   "dont visibles dans l'annuaire : %(v)s.", n=sum(counts.values()),
                   v=counts.get(ContributionStatus.accepted, 0) + counts.get(ContributionStatus.published, 0)),
                 [_("Statut"), _("Fiches action")], rows, chart="none")


# --- The page's sections --------------------------------------------------------------------------

@dataclass
class Section:
    key: str
    title: str
    tables: list[Table]


Builder = Callable[[Session, Period], Table]

BUILDERS: dict[str, Builder] = {
    "abonnes_par_mois": subscribers_by_month,
    "abonnes_par_theme": subscribers_by_topic,
    "abonnes_par_fonction": subscribers_by_role,
    "abonnes_par_commune": subscribers_by_commune,
    "abonnes_par_departement": subscribers_by_departement,
    "envois": mailouts,
    "evenements_par_type": events_by_type,
    "evenements": events_table,
    "inscrits_par_structure": registrations_by_structure,
    "inscrits_par_fonction": registrations_by_role,
    "contributions_par_structure": contributions_by_structure,
    "contributions_par_nature": contributions_by_kind,
    "contributions_par_statut": contributions_by_status,
    "delai_de_decision": decision_times,
    "fiches_action": fiches_action,
    "partenaires": partners,
    "nouvelles_structures": new_structures,
}


def sections(db: Session, period: Period) -> list[Section]:
    def tables(*keys: str) -> list[Table]:
        return [BUILDERS[key](db, period) for key in keys]
    return [
        Section("abonnes", _("Abonnés"), tables("abonnes_par_mois", "abonnes_par_theme", "abonnes_par_fonction",
                                                 "abonnes_par_commune", "abonnes_par_departement")),
        Section("envois", _("Lettres et invitations"), tables("envois")),
        Section("evenements", _("Événements"), tables("evenements_par_type", "evenements", "inscrits_par_structure",
                                                       "inscrits_par_fonction")),
        Section("contributions", _("Contributions"), tables("contributions_par_structure", "contributions_par_nature",
                                                             "contributions_par_statut", "delai_de_decision",
                                                             "fiches_action")),
        Section("partenaires", _("Partenaires"), tables("partenaires", "nouvelles_structures")),
    ]


def one_table(db: Session, period: Period, key: str) -> Table | None:
    builder = BUILDERS.get(key)
    return builder(db, period) if builder else None

