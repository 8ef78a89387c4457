"""Registrations to events: capacity in people, the waitlist in order of arrival, cancellation and
promotion.

Every change of seats happens with the event row locked (`SELECT … FOR UPDATE` on PostgreSQL; on
SQLite a no-op write takes the single writer lock first), so two people taking the last seat at the
same moment never both get it. The waitlist is strictly first come, first served: nobody is
confirmed ahead of someone already waiting, even when a smaller party would fit.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contributions.models import VISIBLE_STATUSES, Contribution, ContributionKind
from core.db import utcnow
from core.settings import get_settings
from events import ics
from events.models import (
    Event,
    EventStatus,
    Registration,
    RegistrationMessage,
    RegistrationStatus,
)
from mailing.models import OutboundEmail
from mailing.outbox import queue_email
from subscribers.services import InvalidEmail, normalize_email, one_line

log = logging.getLogger(__name__)

__all__ = ["InvalidEmail", "RegistrationClosed", "ConsentRequired", "register", "cancel", "promote",
           "seats_taken", "seats_left", "is_full", "registration_open", "self_service_path",
           "claim_message", "lock_event"]

MAX_PARTY_SIZE = 20


class RegistrationClosed(ValueError):
    """Registration to this event is not open (not yet, no longer, or the event is cancelled)."""


class ConsentRequired(ValueError):
    """The registration form's consent box was not ticked."""


def self_service_path(token: str) -> str:
    return f"/agenda/inscription/{token}"


def self_service_url(registration: Registration) -> str:
    return get_settings().base_url + self_service_path(registration.token)


def event_path(event: Event) -> str:
    return f"/agenda/{event.id}/"


def lock_event(db: Session, event: Event) -> Event:
    """Lock the event row until the end of the transaction and return it fresh."""
    if db.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write takes the database's single writer lock now, so that
        # the count below cannot change under us.
        db.execute(update(Event).where(Event.id == event.id)
                   .values(sequence=Event.sequence, updated_at=Event.updated_at))
        locked = db.get(Event, event.id, populate_existing=True)
        assert locked is not None  # the UPDATE above just wrote it
        return locked
    return db.execute(select(Event).where(Event.id == event.id).with_for_update()
                      .execution_options(populate_existing=True)).scalar_one()


def seats_taken(db: Session, event: Event) -> int:
    """People confirmed (the sum of their party sizes)."""
    return db.scalar(select(func.coalesce(func.sum(Registration.party_size), 0)).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.confirmed)) or 0


def waitlist_length(db: Session, event: Event) -> int:
    return db.scalar(select(func.count()).select_from(Registration).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.waitlisted)) or 0


def seats_left(db: Session, event: Event) -> int | None:
    if event.capacity is None:
        return None
    return max(event.capacity - seats_taken(db, event), 0)


def is_full(db: Session, event: Event) -> bool:
    if event.status is EventStatus.full:
        return True
    if event.capacity is None:
        return False
    return seats_left(db, event) == 0 or waitlist_length(db, event) > 0


def registration_open(event: Event, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if event.status is EventStatus.cancelled or now >= event.starts_at:
        return False
    if event.registration_opens_at and now < event.registration_opens_at:
        return False
    return not (event.registration_closes_at and now >= event.registration_closes_at)


def _live_registration(db: Session, event: Event, email: str) -> Registration | None:
    return db.scalar(select(Registration).where(
        Registration.event_id == event.id, Registration.email == email,
        Registration.status != RegistrationStatus.cancelled))


def email_context(registration: Registration) -> dict:
    return {"registration": registration, "event": registration.event,
            "manage_url": self_service_url(registration),
            "event_url": get_settings().base_url + event_path(registration.event)}


def claim_message(db: Session, registration_id: int, kind: str) -> int | None:
    """Record that the message `kind` goes to this registration; None if it was already recorded
    (by this process or a concurrent one: INSERT … ON CONFLICT DO NOTHING on the unique
    (registration, kind), which waits for a concurrent insert of the same pair to commit)."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return db.scalar(insert(RegistrationMessage)
                     .values(registration_id=registration_id, kind=kind, created_at=utcnow())
                     .on_conflict_do_nothing()
                     .returning(RegistrationMessage.id))


def _send_confirmation(db: Session, registration: Registration, template: str, **context) -> OutboundEmail:
    """The confirmation (or promotion) e-mail; a confirmed registration gets the iCalendar
    invitation with it. The registration is recorded as told of this version (SEQUENCE) of the
    event, so that the update to that version is not sent to them again."""
    event = registration.event
    attachments = None
    if registration.status is RegistrationStatus.confirmed and not event.is_cancelled:
        attachments = [ics.invitation_attachment(event, registration)]
    outbound = queue_email(db, template, registration.email,
                           {**email_context(registration), "invitation": bool(attachments), **context},
                           attachments=attachments)
    if event.sequence > 0:
        message_id = claim_message(db, registration.id, f"update:{event.sequence}")
        if message_id is not None:
            db.execute(update(RegistrationMessage).where(RegistrationMessage.id == message_id)
                       .values(outbound_email_id=outbound.id))
    return outbound


def register(db: Session, event: Event, name: str, email: str, structure: str = "", role: str = "",
             needs: str = "", party_size: int = 1, consent: bool = False,
             now: datetime | None = None) -> Registration:
    """Register someone (and those coming with them). Confirmed if the seats allow and nobody is
    waiting, waitlisted otherwise. Registering again with the same address changes nothing and
    returns the existing registration with `already_registered` set (the link is e-mailed again).
    Raises InvalidEmail, ConsentRequired, RegistrationClosed, ValueError. The event's row stays
    locked until the caller's COMMIT: a concurrent registration waits, then counts this one."""
    if not consent:
        raise ConsentRequired("consent required")
    address = normalize_email(email)
    party_size = int(party_size)
    if not 1 <= party_size <= MAX_PARTY_SIZE:
        raise ValueError(f"party_size must be between 1 and {MAX_PARTY_SIZE}")
    now = now or utcnow()

    event = lock_event(db, event)
    existing = _live_registration(db, event, address)
    if existing is not None:
        existing.already_registered = True
        _send_confirmation(db, existing, "event_registration", again=True)
        return existing
    if not registration_open(event, now):
        db.rollback()
        raise RegistrationClosed(event.id)

    fits = (event.status is not EventStatus.full
            and (event.capacity is None
                 or (waitlist_length(db, event) == 0
                     and seats_taken(db, event) + party_size <= event.capacity)))
    position = (db.scalar(select(func.max(Registration.position)).where(
        Registration.event_id == event.id)) or 0) + 1
    registration = Registration(
        event=event, name=one_line(name)[:200], email=address, structure=one_line(structure)[:200],
        role=one_line(role)[:200], accessibility_needs=(needs or "").strip(), party_size=party_size,
        status=RegistrationStatus.confirmed if fits else RegistrationStatus.waitlisted,
        position=position, consent_at=now, created_at=now)
    db.add(registration)
    db.flush()
    _send_confirmation(db, registration, "event_registration", again=False)
    log.info("registration %s to event %s: %s", registration.id, event.id, registration.status.value)
    return registration


def promote(db: Session, event: Event, now: datetime) -> list[Registration]:
    """Confirm the first waitlisted registrations that fit, in order; stop at the first that does
    not (first come, first served). The caller holds the event's lock (`lock_event`) and commits."""
    if event.status in (EventStatus.full, EventStatus.cancelled):
        return []
    waiting = db.scalars(select(Registration).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.waitlisted)
        .order_by(Registration.position)).all()
    free = None if event.capacity is None else event.capacity - seats_taken(db, event)
    promoted = []
    for registration in waiting:
        if free is not None and registration.party_size > free:
            break
        registration.status = RegistrationStatus.confirmed
        registration.promoted_at = now
        if free is not None:
            free -= registration.party_size
        promoted.append(registration)
    db.flush()
    for registration in promoted:
        _send_confirmation(db, registration, "event_promoted")
    return promoted


def cancel(db: Session, registration: Registration, now: datetime | None = None) -> list[Registration]:
    """Cancel a registration (by the attendee or the editor) and promote whoever now fits from the
    waitlist, e-mailing them. Returns the promoted registrations (the caller commits, which
    releases the event's lock). Cancelling twice does nothing the second time."""
    now = now or utcnow()
    event = lock_event(db, registration.event)
    db.refresh(registration)
    if registration.status is RegistrationStatus.cancelled:
        return []
    registration.status = RegistrationStatus.cancelled
    registration.cancelled_at = now
    registration.attended = None  # a cancelled person never counts as present
    registration.attended_marked_at = None
    db.flush()
    return promote(db, event, now)


def by_token(db: Session, token: str) -> Registration | None:
    if not token or len(token) > 64:
        return None
    return db.scalar(select(Registration).where(Registration.token == token))


def upcoming(db: Session, now: datetime | None = None) -> list[Event]:
    now = now or utcnow()
    return list(db.scalars(select(Event).where(Event.ends_at >= now).order_by(Event.starts_at, Event.id)))


def past(db: Session, now: datetime | None = None) -> list[Event]:
    now = now or utcnow()
    return list(db.scalars(select(Event).where(Event.ends_at < now).order_by(Event.starts_at.desc(), Event.id)))


# --- Partner events: accepted contributions of kind « événement » ----------------------------------

def _partner_events_query():
    return select(Contribution).where(
        Contribution.kind == ContributionKind.evenement,
        Contribution.status.in_(VISIBLE_STATUSES),
        Contribution.event_start.is_not(None))


def partner_events(db: Session, past: bool = False, now: datetime | None = None) -> list:
    """Partners' events accepted by the editors, shown in the agenda with the network's own:
    upcoming ones soonest first, or past ones most recent first."""
    now = now or utcnow()
    end = func.coalesce(Contribution.event_end, Contribution.event_start)
    query = _partner_events_query()
    if past:
        query = query.where(end < now).order_by(Contribution.event_start.desc(), Contribution.id)
    else:
        query = query.where(end >= now).order_by(Contribution.event_start, Contribution.id)
    return list(db.scalars(query))


def partner_event(db: Session, contribution_id: int):
    return db.scalar(_partner_events_query().where(Contribution.id == contribution_id))
