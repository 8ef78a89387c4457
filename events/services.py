"""Registrations to events: capacity in people, the waitlist in order of arrival, cancellation and
promotion.

Every change of seats happens with the event row locked (`SELECT … FOR UPDATE` on PostgreSQL; on
SQLite a no-op write takes the single writer lock first), so two people taking the last seat at the
same moment never both get it. The waitlist is strictly first come, first served: nobody is
confirmed ahead of someone already waiting, even when a smaller party would fit.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contributions.models import VISIBLE_STATUSES, Contribution, ContributionKind
from core.db import utcnow
from core.settings import get_settings
from events import ics, signals
from events.models import (
    Event,
    EventStatus,
    Registration,
    RegistrationMessage,
    RegistrationStatus,
)
from mailing.models import OutboundEmail
from mailing.outbox import queue_email
from subscribers import consent as consent_texts
from subscribers.services import InvalidEmail, normalize_email, one_line, touch_address

log = logging.getLogger(__name__)

__all__ = ["InvalidEmail", "RegistrationClosed", "ConsentRequired", "PartyTooLarge", "register",
           "request_registration", "confirm_address", "max_party_size", "cancel", "promote",
           "seats_taken", "seats_left", "waitlist_place", "is_full", "registration_open", "self_service_path",
           "claim_message", "lock_event"]


class RegistrationClosed(ValueError):
    """Registration to this event is not open (not yet, no longer, or the event is cancelled)."""


class ConsentRequired(ValueError):
    """The registration form's consent box was not ticked."""


class PartyTooLarge(ValueError):
    """More people than one registration may bring to this event (the limit is `args[0]`)."""

    @property
    def limit(self) -> int:
        return int(self.args[0])


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


def waitlist_place(db: Session, registration: Registration) -> int | None:
    """1 for the first in the waitlist…; None when the registration is not waiting."""
    if registration.status is not RegistrationStatus.waitlisted:
        return None
    return db.scalar(select(func.count()).select_from(Registration).where(
        Registration.event_id == registration.event_id, Registration.status == RegistrationStatus.waitlisted,
        Registration.position <= registration.position)) or None


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


def max_party_size(event: Event) -> int:
    """People one registration may bring: the event's own cap, else EVENT_MAX_PARTY_SIZE."""
    return event.max_party_size or get_settings().event_max_party_size


def _check_request(event: Event, email: str, party_size: int, consent: bool) -> tuple[str, int]:
    if not consent:
        raise ConsentRequired("consent required")
    address = normalize_email(email)
    party_size = int(party_size)
    limit = max_party_size(event)
    if not 1 <= party_size <= limit:
        raise PartyTooLarge(limit)
    return address, party_size


def _new_registration(db: Session, event: Event, name: str, address: str, structure: str, role: str,
                      needs: str, party_size: int, now: datetime) -> Registration:
    return Registration(
        event=event, name=one_line(name)[:200], email=address, structure=one_line(structure)[:200],
        role=one_line(role)[:200], accessibility_needs=(needs or "").strip(), party_size=party_size,
        status=RegistrationStatus.unconfirmed, position=0, consent_at=now, created_at=now,
        consent_version_id=consent_texts.current_version(db, consent_texts.REGISTRATION).id)


def _take_seat(db: Session, event: Event, registration: Registration, now: datetime) -> None:
    """Confirmed if the seats allow and nobody is waiting, waitlisted otherwise; the position is the
    order of arrival among those whose address is proven. The caller holds the event's lock."""
    fits = (event.status is not EventStatus.full
            and (event.capacity is None
                 or (waitlist_length(db, event) == 0
                     and seats_taken(db, event) + registration.party_size <= event.capacity)))
    registration.position = (db.scalar(select(func.max(Registration.position)).where(
        Registration.event_id == event.id)) or 0) + 1
    registration.status = RegistrationStatus.confirmed if fits else RegistrationStatus.waitlisted
    registration.address_confirmed_at = registration.address_confirmed_at or now
    db.flush()
    touch_address(db, registration.email, now)  # a registration is a subscriber's sign of life (retention)
    _send_confirmation(db, registration, "event_registration", again=False)
    signals.registration_created.send(db, registration=registration)
    log.info("registration %s to event %s: %s", registration.id, event.id, registration.status.value)


def register(db: Session, event: Event, name: str, email: str, structure: str = "", role: str = "",
             needs: str = "", party_size: int = 1, consent: bool = False,
             now: datetime | None = None) -> Registration:
    """Register someone whose address is already proven (the editor, the demo, the confirmation
    link): confirmed if the seats allow and nobody is waiting, waitlisted otherwise. The public
    form goes through `request_registration` instead. Registering again with the same address
    changes nothing and returns the existing registration with `already_registered` set (the link
    is e-mailed again). Raises InvalidEmail, ConsentRequired, PartyTooLarge, RegistrationClosed.
    The event's row stays locked until the caller's COMMIT: a concurrent registration waits, then
    counts this one."""
    address, party_size = _check_request(event, email, party_size, consent)
    now = now or utcnow()

    event = lock_event(db, event)
    existing = _live_registration(db, event, address)
    if existing is not None:
        existing.already_registered = True
        if existing.status is RegistrationStatus.unconfirmed:
            _take_seat(db, event, existing, now)
        else:
            _send_confirmation(db, existing, "event_registration", again=True)
        return existing
    if not registration_open(event, now):
        db.rollback()
        raise RegistrationClosed(event.id)
    registration = _new_registration(db, event, name, address, structure, role, needs, party_size, now)
    db.add(registration)
    db.flush()
    _take_seat(db, event, registration, now)
    return registration


# A public request sends its confirmation link to an address at most this often.
CONFIRM_RESEND_INTERVAL = timedelta(hours=1)


def request_registration(db: Session, event: Event, name: str, email: str, structure: str = "",
                         role: str = "", needs: str = "", party_size: int = 1, consent: bool = False,
                         now: datetime | None = None) -> Registration:
    """A registration asked on the public form (issue 13 #8): it is recorded « unconfirmed », takes
    no seat and blocks nobody until the link e-mailed to the address is followed (`confirm_address`).
    The same address again changes nothing: an unconfirmed registration gets its link again (at
    most once an hour), a live one its usual e-mail. Raises InvalidEmail, ConsentRequired,
    PartyTooLarge, RegistrationClosed."""
    address, party_size = _check_request(event, email, party_size, consent)
    now = now or utcnow()
    event = lock_event(db, event)
    existing = _live_registration(db, event, address)
    if existing is not None:
        existing.already_registered = True
        if existing.status is not RegistrationStatus.unconfirmed:
            _send_confirmation(db, existing, "event_registration", again=True)
        elif not db.scalar(select(OutboundEmail.id).where(
                OutboundEmail.to_addr == address, OutboundEmail.template == "event_confirm_address",
                OutboundEmail.created_at > now - CONFIRM_RESEND_INTERVAL).limit(1)):
            queue_email(db, "event_confirm_address", address, email_context(existing))
        return existing
    if not registration_open(event, now):
        db.rollback()
        raise RegistrationClosed(event.id)
    registration = _new_registration(db, event, name, address, structure, role, needs, party_size, now)
    db.add(registration)
    db.flush()
    queue_email(db, "event_confirm_address", address, email_context(registration))
    log.info("registration %s to event %s: waiting for its address to be confirmed", registration.id, event.id)
    return registration


def confirm_address(db: Session, registration: Registration, now: datetime | None = None) -> bool:
    """The link e-mailed to the address was followed (and its button pressed): the registration
    takes a seat, or a place in the waitlist, now. False if it was not unconfirmed (confirming
    twice changes nothing). Raises RegistrationClosed if registration to the event has closed
    since. The caller commits, which releases the event's lock."""
    now = now or utcnow()
    event = lock_event(db, registration.event)
    db.refresh(registration)
    if registration.status is not RegistrationStatus.unconfirmed:
        return False
    if not registration_open(event, now):
        db.rollback()
        raise RegistrationClosed(event.id)
    _take_seat(db, event, registration, now)
    return True


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


def cancel(db: Session, registration: Registration, now: datetime | None = None,
           by_editor: bool = False) -> list[Registration]:
    """Cancel a registration (by the attendee or, `by_editor`, the editor) and promote whoever now
    fits from the waitlist, e-mailing them. The person is told too, once: a confirmed one with the
    iCalendar METHOD:CANCEL that takes the event out of their calendar; a waitlisted one that they
    left the waitlist; an unconfirmed one is not written to (their address was never proven).
    Returns the promoted registrations (the caller commits, which releases the event's lock).
    Cancelling twice does nothing the second time."""
    now = now or utcnow()
    event = lock_event(db, registration.event)
    db.refresh(registration)
    if registration.status is RegistrationStatus.cancelled:
        return []
    previous = registration.status
    registration.status = RegistrationStatus.cancelled
    registration.cancelled_at = now
    registration.attended = None  # a cancelled person never counts as present
    registration.attended_marked_at = None
    db.flush()
    if previous is not RegistrationStatus.unconfirmed:
        _send_cancellation(db, registration, previous, by_editor, now)
        signals.registration_cancelled.send(db, registration=registration, previous=previous)
    return promote(db, event, now)


def _send_cancellation(db: Session, registration: Registration, previous: RegistrationStatus,
                       by_editor: bool, now: datetime) -> None:
    message_id = claim_message(db, registration.id, "registration-cancelled")
    if message_id is None:
        return
    event = registration.event
    invited = previous is RegistrationStatus.confirmed and not event.is_cancelled
    attachments = [ics.invitation_attachment(event, registration, "CANCEL", now)] if invited else None
    outbound = queue_email(db, "event_registration_cancelled", registration.email,
                           {**email_context(registration), "by_editor": by_editor, "invitation": invited,
                            "was_waitlisted": previous is RegistrationStatus.waitlisted},
                           attachments=attachments)
    db.execute(update(RegistrationMessage).where(RegistrationMessage.id == message_id)
               .values(outbound_email_id=outbound.id))


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
