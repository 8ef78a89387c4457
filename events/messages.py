"""Messages to the registrants after a change and on a schedule: the iCalendar update (SEQUENCE n)
or cancellation, the reminders J-7 and J-1, the thank-you after the event; and the draft
contribution « Retour sur la soirée… » that waits for the editor in the moderation queue.

Exactly once, whatever beat or the workers do: each message to a registration is a
`RegistrationMessage`, unique on (registration, kind), inserted in the same transaction as the
outbox e-mail (`claim_message`: INSERT … ON CONFLICT DO NOTHING). A second run, a restarted one or
a concurrent one finds the row and sends nothing. The database is the truth; beat only wakes this
up. Each message is its own short transaction (the demo runs on SQLite: one writer at a time).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from contributions.editing import network_structure
from contributions.models import (
    Contribution,
    ContributionKind,
    ContributionStatus,
    ContributionTransition,
)
from core.db import utcnow
from core.formatting import date_time, plural
from events import ics
from events.models import (
    ANONYMOUS_DOMAIN,
    Event,
    EventStatus,
    EventType,
    Registration,
    RegistrationMessage,
    RegistrationStatus,
)
from events.services import claim_message, email_context, lock_event
from mailing.mime import Attachment
from mailing.outbox import queue_rendered
from mailing.templates import render_email

log = logging.getLogger(__name__)

# Reminder days accepted in `Event.reminder_days` ("7,1").
MAX_REMINDER_DAYS = 60
# After the event: thank-yous go to those marked present within this window (the editor marks
# attendance in the days after), and the draft « Retour sur… » is made once attendance is marked,
# or after RETOUR_AFTER at the latest.
AFTER_EVENT_WINDOW = timedelta(days=30)
RETOUR_AFTER = timedelta(days=2)


@dataclass
class Report:
    """What a run did, for the logs and the tests."""
    sent: dict[str, int] = field(default_factory=dict)
    retours: list[int] = field(default_factory=list)

    def add(self, kind: str) -> None:
        key = kind.split(":")[0]
        self.sent[key] = self.sent.get(key, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.sent.values())


def parse_reminder_days(raw: str | None) -> list[int]:
    """"7,1" → [7, 1]; raises ValueError on anything else than days between 0 and 60."""
    days = []
    for part in (raw or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        value = int(part)
        if not 0 <= value <= MAX_REMINDER_DAYS:
            raise ValueError(part)
        if value not in days:
            days.append(value)
    return sorted(days, reverse=True)


def _send_once(db: Session, registration: Registration, kind: str, template: str, context: dict,
               attachments: list[Attachment] | None = None) -> bool:
    """Queue the e-mail `template` to `registration` unless the message `kind` already went, in a
    short transaction of its own (committed)."""
    rendered = render_email(template, {**email_context(registration), **context}, db)
    db.commit()  # end the transaction so far: the claim opens a short write one (SQLite: one writer)
    message_id = claim_message(db, registration.id, kind)
    if message_id is not None:
        outbound = queue_rendered(db, template, registration.email, rendered, attachments=attachments)
        db.execute(update(RegistrationMessage).where(RegistrationMessage.id == message_id)
                   .values(outbound_email_id=outbound.id))
    db.commit()  # the claim and its e-mail together, at once: a concurrent run waits on the claim
    return message_id is not None


def _without_message(kind: str):
    return ~exists().where(RegistrationMessage.registration_id == Registration.id,
                           RegistrationMessage.kind == kind)


# --- After a change: the iCalendar update or cancellation ---------------------------------------

def notice_kind(event: Event) -> str | None:
    """The message that brings a registrant up to date with the event, None if there is none."""
    if event.is_cancelled:
        return "cancel"
    if event.sequence > 0:
        return f"update:{event.sequence}"
    return None


def send_event_notices(db: Session, event: Event, now: datetime | None = None) -> Report:
    """Send the current version of a changed event to every live registration that does not have
    it: METHOD:REQUEST with the new SEQUENCE (an update, a postponement), or METHOD:CANCEL with
    STATUS:CANCELLED. The waitlisted are told too, without an invitation (they hold no seat)."""
    now = now or utcnow()
    report = Report()
    db.refresh(event)
    kind = notice_kind(event)
    if kind is None or event.ends_at <= now:
        return report
    method, template = ("CANCEL", "event_cancelled") if kind == "cancel" else ("REQUEST", "event_update")
    registrations = list(db.scalars(select(Registration).where(
        Registration.event_id == event.id,
        # Not the unconfirmed: their address is not proven, and they hold nothing.
        Registration.status.in_([RegistrationStatus.confirmed, RegistrationStatus.waitlisted]),
        _without_message(kind)).order_by(Registration.position)))
    for registration in registrations:
        confirmed = registration.status is RegistrationStatus.confirmed
        attachments = [ics.invitation_attachment(event, registration, method, now)] if confirmed else None
        if _send_once(db, registration, kind, template, {"invitation": confirmed}, attachments):
            report.add(kind)
    return report


def send_pending_notices(db: Session, now: datetime | None = None) -> Report:
    """Every changed or cancelled event still to come: the notices a lost task left behind."""
    now = now or utcnow()
    report = Report()
    events = list(db.scalars(select(Event).where(
        Event.ends_at > now, (Event.sequence > 0) | (Event.status == EventStatus.cancelled))))
    for event in events:
        for key, count in send_event_notices(db, event, now).sent.items():
            report.sent[key] = report.sent.get(key, 0) + count
    return report


# --- Reminders ------------------------------------------------------------------------------

def due_reminder(event: Event, now: datetime) -> tuple[int, datetime] | None:
    """The reminder due now for this event: the closest one whose time has come (J-1 rather than a
    J-7 that beat missed), with that time; None before the first one or once the event started."""
    if event.status in (EventStatus.cancelled, EventStatus.postponed) or now >= event.starts_at:
        return None
    try:
        days = parse_reminder_days(event.reminder_days)
    except ValueError:
        log.warning("event %s: reminder days %r unreadable", event.id, event.reminder_days)
        return None
    due = [d for d in days if event.starts_at - timedelta(days=d) <= now]
    if not due:
        return None
    d = min(due)
    return d, event.starts_at - timedelta(days=d)


def send_due_reminders(db: Session, now: datetime | None = None) -> Report:
    """Send the reminders that are due (J-7 and J-1 by default, `Event.reminder_days`), once per
    registration: only to confirmed registrations, never to a cancelled or waitlisted one, never
    after the start, and not to someone who registered (or was promoted) after the reminder's time,
    who has just had the confirmation."""
    now = now or utcnow()
    report = Report()
    horizon = now + timedelta(days=MAX_REMINDER_DAYS + 1)
    events = list(db.scalars(select(Event).where(
        Event.starts_at > now, Event.starts_at <= horizon,
        Event.status.in_([EventStatus.scheduled, EventStatus.full])).order_by(Event.starts_at)))
    for event in events:
        due = due_reminder(event, now)
        if due is None:
            continue
        days, due_at = due
        kind = f"reminder:{days}"
        registrations = list(db.scalars(select(Registration).where(
            Registration.event_id == event.id, Registration.status == RegistrationStatus.confirmed,
            func.coalesce(Registration.promoted_at, Registration.created_at) < due_at,
            _without_message(kind)).order_by(Registration.position)))
        for registration in registrations:
            if _send_once(db, registration, kind, "event_reminder", {"days": days}):
                report.add(kind)
    if report.total:
        log.info("event reminders sent: %s", report.sent)
    return report


# --- After the event ------------------------------------------------------------------------

RETOUR_TITLES = {
    EventType.soiree_reaap: "Retour sur la soirée « {title} »",
    EventType.journee_porteurs: "Retour sur la journée « {title} »",
    EventType.rencontre_clas: "Retour sur la rencontre « {title} »",
    EventType.formation: "Retour sur la formation « {title} »",
    EventType.autre: "Retour sur « {title} »",
}


def _counted(count: int, word: str) -> str:
    return f"{count} {plural(count, word, word + 's')}"


def _people(db: Session, event: Event, *conditions) -> tuple[int, int]:
    """(registrations, people) matching the conditions."""
    rows, people = db.execute(select(func.count(Registration.id), func.coalesce(func.sum(Registration.party_size), 0))
                              .where(Registration.event_id == event.id, *conditions)).one()
    return rows or 0, people or 0


def retour_body(db: Session, event: Event) -> str:
    """The Markdown the draft starts from: the facts the editor would otherwise look up."""
    confirmed = _people(db, event, Registration.status == RegistrationStatus.confirmed)
    came = (Registration.status == RegistrationStatus.confirmed, Registration.attended.is_(True))
    present = _people(db, event, *came)
    marked = _people(db, event, Registration.status == RegistrationStatus.confirmed,
                     Registration.attended.is_not(None))[0]
    structures = db.scalar(select(func.count(func.distinct(Registration.structure))).where(
        Registration.event_id == event.id, *came, Registration.structure != ""))
    place = ", ".join(p for p in (event.place, event.address) if p) or (event.online_url or "")
    lines = [
        "*Brouillon préparé automatiquement après l'événement : complétez-le, puis acceptez-le "
        "pour la prochaine lettre.*",
        "",
        f"- Date : {date_time(event.starts_at)}",
    ]
    if place:
        lines.append(f"- Lieu : {place}")
    lines.append(f"- Inscrits : {_counted(confirmed[1], 'personne')} ({_counted(confirmed[0], 'inscription')})")
    if marked:
        lines.append(f"- Présents : {_counted(present[1], 'personne')} ({_counted(present[0], 'inscription')})")
        lines.append(f"- Structures représentées : {structures or 0}")
    else:
        lines.append("- Présents : à compléter (les présences n'ont pas été pointées)")
    lines += ["", "## Ce qui s'est dit", "", "…", "", "## Et après ?", "", "…"]
    return "\n".join(lines)


def create_retour(db: Session, event: Event, now: datetime | None = None) -> Contribution | None:
    """The draft « Retour sur la soirée… » of an event, once, submitted so that it waits in the
    editor's moderation queue. None if it exists already (the event's row is locked until the
    caller's COMMIT, so a concurrent run finds it then)."""
    now = now or utcnow()
    event = lock_event(db, event)
    if event.retour_contribution_id is not None:
        return None
    contribution = Contribution(
        structure_id=network_structure(db).id, author_id=None, kind=ContributionKind.actualite,
        status=ContributionStatus.submitted, title=RETOUR_TITLES[event.type].format(title=event.title)[:300],
        body_md=retour_body(db, event), source="event", created_at=now, updated_at=now, submitted_at=now)
    db.add(contribution)
    db.flush()
    db.add_all([
        ContributionTransition(contribution_id=contribution.id, from_status=None,
                               to_status=ContributionStatus.draft.value, at=now),
        ContributionTransition(contribution_id=contribution.id, from_status=ContributionStatus.draft.value,
                               to_status=ContributionStatus.submitted.value, at=now,
                               comment=f"Préparé automatiquement après l'événement n°{event.id}."),
    ])
    event.retour_contribution_id = contribution.id
    db.flush()
    log.info("event %s: draft retour contribution %s", event.id, contribution.id)
    return contribution


def after_event(db: Session, now: datetime | None = None) -> Report:
    """After each event that took place (not cancelled nor postponed): the thank-you, with the
    survey link when there is one, to each registration marked present, once (each message in its
    own short transaction); and the draft « Retour sur… » contribution, once. The caller commits
    what is left."""
    now = now or utcnow()
    report = Report()
    events = list(db.scalars(select(Event).where(
        Event.ends_at <= now, Event.ends_at > now - AFTER_EVENT_WINDOW,
        Event.status.in_([EventStatus.scheduled, EventStatus.full])).order_by(Event.ends_at)))
    for event in events:
        present = list(db.scalars(select(Registration).where(
            Registration.event_id == event.id, Registration.attended.is_(True),
            Registration.status == RegistrationStatus.confirmed,
            ~Registration.email.endswith("@" + ANONYMOUS_DOMAIN),  # erased: nobody to thank
            _without_message("thanks")).order_by(Registration.position)))
        thanked = sum(_send_once(db, r, "thanks", "event_thanks", {}) for r in present)
        if thanked:
            report.sent["thanks"] = report.sent.get("thanks", 0) + thanked
            db.execute(update(Event).where(Event.id == event.id, Event.thanks_sent_at.is_(None))
                       .values(thanks_sent_at=now, updated_at=Event.updated_at))
        if event.retour_contribution_id is None:
            marked = db.scalar(select(func.count(Registration.id)).where(
                Registration.event_id == event.id, Registration.status == RegistrationStatus.confirmed,
                Registration.attended.is_not(None)))
            if marked or now >= event.ends_at + RETOUR_AFTER:
                contribution = create_retour(db, event, now)
                if contribution is not None:
                    report.retours.append(contribution.id)
    return report


__all__ = ["send_event_notices", "send_pending_notices", "send_due_reminders", "after_event",
           "create_retour", "network_structure", "parse_reminder_days", "due_reminder", "Report"]
