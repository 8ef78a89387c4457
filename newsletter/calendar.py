"""The editorial calendar: the letters planned for a year, each with its contribution deadline.

`CALL_FOR_CONTRIBUTIONS_DAYS` (21) days before a deadline, beat e-mails the appel à contributions
to every active partner account and reminds the editors of what is waiting. Each goes out once:
the planned issue is claimed by an UPDATE … WHERE call_sent_at IS NULL in the same transaction
as the outbox rows, so a second run, a concurrent one, or a restarted beat finds nothing to do.
Days are counted in Europe/Paris; `now` is injected so tests move the clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from accounts.models import Role, User
from contributions.models import Contribution, ContributionStatus
from core import site_settings, urls
from core.db import affected_rows, utcnow
from core.formatting import PARIS
from core.settings import get_settings
from mailing.outbox import queue_email
from newsletter.models import Issue, IssueItem, IssueKind, IssueStatus, PlannedIssue

# The deadline of a generated plan: four weeks before the letter, time to compose and proofread.
DEADLINE_BEFORE_ISSUE = timedelta(days=28)
ISSUE_DAY = 15  # generated letters come out mid-month, moved off the weekend


class CalendarError(ValueError):
    """The change to the calendar is not possible; the message says why, in French."""


def paris_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(PARIS).date()


def call_date(planned: PlannedIssue) -> date:
    """The day the appel à contributions goes out."""
    return planned.deadline - timedelta(days=get_settings().call_for_contributions_days)


# --- Planning -----------------------------------------------------------------------------------

def planned_issues(db: Session, year: int | None = None) -> list[PlannedIssue]:
    query = select(PlannedIssue)
    if year is not None:
        query = query.where(PlannedIssue.issue_date >= date(year, 1, 1), PlannedIssue.issue_date <= date(year, 12, 31))
    return list(db.scalars(query.order_by(PlannedIssue.issue_date)))


def default_dates(year: int, count: int) -> list[date]:
    """`count` letter dates spread over the year (3 → March, July, November), on a weekday."""
    if not 1 <= count <= 12:
        raise CalendarError("Le nombre de lettres par an doit être compris entre 1 et 12.")
    dates = []
    for index in range(count):
        month = 1 + (12 * index) // count + (12 // count) // 2
        day = date(year, month, ISSUE_DAY)
        if day.weekday() >= 5:  # Saturday or Sunday: the Monday after
            day += timedelta(days=7 - day.weekday())
        dates.append(day)
    return dates


def generate_year(db: Session, year: int, count: int | None = None) -> list[PlannedIssue]:
    """Plan `count` letters (ISSUES_PER_YEAR by default) for `year`, each with its deadline. A month
    that already has a planned letter is left as it is, so generating twice adds nothing."""
    count = count or site_settings.current().issues_per_year
    existing = {(p.issue_date.year, p.issue_date.month) for p in planned_issues(db, year)}
    created = []
    for day in default_dates(year, count):
        if (day.year, day.month) in existing:
            continue
        planned = PlannedIssue(issue_date=day, deadline=day - DEADLINE_BEFORE_ISSUE, note="")
        db.add(planned)
        created.append(planned)
    db.flush()
    return created


def _check(db: Session, issue_date: date, deadline: date, planned_id: int | None = None) -> None:
    if deadline >= issue_date:
        raise CalendarError("La date limite des contributions doit précéder la date de la lettre.")
    clash = db.scalar(select(PlannedIssue.id).where(PlannedIssue.issue_date == issue_date))
    if clash and clash != planned_id:
        raise CalendarError("Une lettre est déjà prévue à cette date.")


def add_planned(db: Session, issue_date: date, deadline: date | None = None, note: str = "") -> PlannedIssue:
    deadline = deadline or issue_date - DEADLINE_BEFORE_ISSUE
    _check(db, issue_date, deadline)
    planned = PlannedIssue(issue_date=issue_date, deadline=deadline, note=note.strip())
    db.add(planned)
    db.flush()
    return planned


def update_planned(db: Session, planned: PlannedIssue, issue_date: date, deadline: date, note: str,
                   issue_id: int | None = None) -> None:
    """Change the dates, the note, or the letter this plan became. A call already sent is not sent
    again when the deadline moves (partners were told; tell them in the letter or by hand)."""
    _check(db, issue_date, deadline, planned.id)
    if issue_id is not None and db.scalar(select(Issue.kind).where(Issue.id == issue_id)) is not IssueKind.letter:
        raise CalendarError("Ce numéro n'existe pas.")
    planned.issue_date, planned.deadline, planned.note = issue_date, deadline, note.strip()
    planned.issue_id = issue_id
    db.flush()


def delete_planned(db: Session, planned: PlannedIssue) -> None:
    db.delete(planned)
    db.flush()


def next_deadline(db: Session, now: datetime | None = None) -> PlannedIssue | None:
    """The next contribution deadline (today's included), shown in the partner space."""
    return db.scalar(select(PlannedIssue).where(PlannedIssue.deadline >= paris_today(now))
                     .order_by(PlannedIssue.deadline).limit(1))


# --- What beat sends ----------------------------------------------------------------------------

@dataclass
class Waiting:
    """What waits for the editors."""
    submitted: int
    accepted_not_placed: int


def waiting(db: Session) -> Waiting:
    placed = select(IssueItem.contribution_id).join(Issue).where(Issue.status != IssueStatus.sent,
                                                                IssueItem.contribution_id.is_not(None))
    return Waiting(
        submitted=db.scalar(select(func.count(Contribution.id)).where(
            Contribution.status == ContributionStatus.submitted)) or 0,
        accepted_not_placed=db.scalar(select(func.count(Contribution.id)).where(
            Contribution.status == ContributionStatus.accepted, Contribution.id.not_in(placed))) or 0)


def partner_recipients(db: Session) -> list[User]:
    return list(db.scalars(select(User).where(User.role == Role.partner, User.active,
                                              User.structure_id.isnot(None)).order_by(User.id)))


def editor_recipients(db: Session) -> list[User]:
    return list(db.scalars(select(User).where(User.role.in_([Role.editor, Role.admin]), User.active)
                           .order_by(User.id)))


def _claim(db: Session, planned_id: int, column, now: datetime) -> bool:
    """Mark the planned issue as done for `column`, unless someone did already. On PostgreSQL a
    concurrent UPDATE waits for this transaction, then finds the column set and changes nothing."""
    result = db.execute(update(PlannedIssue).where(PlannedIssue.id == planned_id, column.is_(None))
                        .values({column.key: now}).execution_options(synchronize_session=False))
    return affected_rows(result) == 1


def due_planned_ids(db: Session, now: datetime | None = None) -> list[int]:
    """Planned issues whose call is due: within N days of a deadline not yet passed, and either
    the call or the editors' reminder still to send."""
    today = paris_today(now)
    horizon = today + timedelta(days=get_settings().call_for_contributions_days)
    return list(db.scalars(select(PlannedIssue.id).where(
        PlannedIssue.deadline >= today, PlannedIssue.deadline <= horizon,
        (PlannedIssue.call_sent_at.is_(None)) | (PlannedIssue.editors_reminded_at.is_(None)))
        .order_by(PlannedIssue.deadline)))


def send_due(db: Session, now: datetime | None = None) -> dict[str, int]:
    """Send every appel à contributions and editors' reminder that is due, each once. Returns
    how many e-mails of each were queued."""
    now = now or utcnow()
    sent = {"calls": 0, "reminders": 0}
    for planned_id in due_planned_ids(db, now):
        sent["calls"] += _send_call(db, planned_id, now)
        sent["reminders"] += _remind_editors(db, planned_id, now)
    return sent


def _context(planned: PlannedIssue, now: datetime) -> dict:
    return {"planned": planned, "deadline": planned.deadline, "issue_date": planned.issue_date,
            "days_left": (planned.deadline - paris_today(now)).days}


def _send_call(db: Session, planned_id: int, now: datetime) -> int:
    try:
        if not _claim(db, planned_id, PlannedIssue.call_sent_at, now):
            db.rollback()
            return 0
        planned = db.get(PlannedIssue, planned_id)
        assert planned is not None  # _claim just updated it
        partners = partner_recipients(db)
        for partner in partners:
            queue_email(db, "appel_a_contributions", partner.email, {
                **_context(planned, now), "partner": partner,
                "partner_url": urls.absolute("/partenaires/"),
                "new_url": urls.absolute("/partenaires/nouvelle")})
        db.commit()  # the claim and its outbox rows together, at once: a concurrent run waits on this row
    except Exception:
        db.rollback()
        raise
    return len(partners)


def _remind_editors(db: Session, planned_id: int, now: datetime) -> int:
    try:
        if not _claim(db, planned_id, PlannedIssue.editors_reminded_at, now):
            db.rollback()
            return 0
        planned = db.get(PlannedIssue, planned_id)
        assert planned is not None  # _claim just updated it
        editors = editor_recipients(db)
        counts = waiting(db)
        for editor in editors:
            queue_email(db, "rappel_redaction", editor.email, {
                **_context(planned, now), "editor": editor, "waiting": counts,
                "moderation_url": urls.absolute("/redaction/moderation/"),
                "issues_url": urls.absolute("/redaction/numeros/"),
                "calendar_url": urls.absolute("/redaction/calendrier")})
        db.commit()  # the claim and its outbox rows together, at once: a concurrent run waits on this row
    except Exception:
        db.rollback()
        raise
    return len(editors)
