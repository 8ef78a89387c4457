"""The editor's side of an event: create, change, cancel.

A change that matters to a calendar (time, place, title, postponement) raises the event's
iCalendar SEQUENCE and asks a worker to send the update to everyone registered; a cancellation
raises it too and sends METHOD:CANCEL (events/messages.py sends them, once each). More seats, or
an event no longer marked full, confirm the waitlisted who now fit.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.orm import Session

from core import jobs
from core.db import utcnow
from core.text import WEB_SCHEMES, safe_url, strip_controls
from events import services
from events.ics import ICS_STATUS
from events.messages import parse_reminder_days
from events.models import Event, EventStatus, EventType
from subscribers.models import ROLES, TOPICS


class EventError(ValueError):
    """The event cannot be saved as given; the message says why, in French."""


@dataclass
class EventData:
    type: EventType
    title: str
    starts_at: datetime
    ends_at: datetime
    description_md: str = ""
    place: str = ""
    address: str = ""
    access_info: str = ""
    accessibility_info: str = ""
    online_url: str | None = None
    capacity: int | None = None
    max_party_size: int | None = None  # None = the setting EVENT_MAX_PARTY_SIZE
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    audience: dict | None = None  # None = everyone, else {"topics": [...], "roles": [...]}
    status: EventStatus = EventStatus.scheduled
    organiser: str = ""
    contact_email: str | None = None
    reminder_days: str = "7,1"
    survey_url: str | None = None

    @classmethod
    def from_event(cls, event: Event) -> EventData:
        return cls(**{f.name: getattr(event, f.name) for f in fields(cls)})


def audience(topics: list[str] | None, roles: list[str] | None) -> dict | None:
    """The stored shape of an audience: None for everyone."""
    topics = [t for t in topics or [] if t in TOPICS]
    roles = [r for r in roles or [] if r in ROLES]
    if not topics and not roles:
        return None
    return {"topics": topics, "roles": roles}


def _web_link(url: str | None, what: str) -> str | None:
    """An http(s) address, or None when empty: it goes into hrefs on the site and in e-mails (the
    form's URL validator lets `javascript://host/%0a…` through)."""
    url = (url or "").strip()
    if not url:
        return None
    if not safe_url(url, WEB_SCHEMES):
        raise EventError(f"{what} doit être une adresse web complète (https://…).")
    return url


def _clean(data: EventData) -> EventData:
    for name, value in data.__dict__.items():
        if type(value) is str:  # not the enums
            setattr(data, name, strip_controls(value))
    data.title = " ".join((data.title or "").split())
    if not data.title:
        raise EventError("Le titre est obligatoire.")
    for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
        value = getattr(data, name)
        if value is not None and value.tzinfo is None:
            raise EventError(f"{name}: heure sans fuseau")
    if data.ends_at <= data.starts_at:
        raise EventError("La fin de l'événement doit venir après son début.")
    if (data.registration_opens_at and data.registration_closes_at
            and data.registration_closes_at <= data.registration_opens_at):
        raise EventError("La clôture des inscriptions doit venir après leur ouverture.")
    if data.capacity is not None and data.capacity < 1:
        raise EventError("La capacité doit être d'au moins une personne (laissez vide : sans limite).")
    try:
        days = parse_reminder_days(data.reminder_days)
    except ValueError:
        raise EventError("Les jours de rappel sont des nombres de jours séparés par des virgules, "
                         "par exemple « 7,1 » (vide : pas de rappel).") from None
    data.reminder_days = ",".join(str(d) for d in days)
    if data.status is EventStatus.cancelled:
        raise EventError("Pour annuler l'événement, utilisez le bouton « Annuler l'événement ».")
    data.online_url = _web_link(data.online_url, "Le lien de la réunion en ligne")
    data.survey_url = _web_link(data.survey_url, "Le lien du questionnaire")
    data.contact_email = (data.contact_email or "").strip().lower() or None
    return data


def create_event(db: Session, data: EventData) -> Event:
    """A new event from the editor's form."""
    event = Event(**_clean(data).__dict__)
    db.add(event)
    db.flush()
    return event


def _calendar_view(event: Event) -> tuple:
    """What a calendar shows of the event: a change here is an update for those registered."""
    return (event.title, event.starts_at, event.ends_at, event.place, event.address, event.online_url,
            ICS_STATUS[event.status])


def update_event(db: Session, event: Event, data: EventData, now: datetime | None = None) -> bool:
    """Save the editor's changes. Returns True when the change matters to calendars: the
    SEQUENCE went up and the update goes to everyone registered (after COMMIT)."""
    now = now or utcnow()
    data = _clean(data)
    event = services.lock_event(db, event)
    if event.is_cancelled:
        db.rollback()
        raise EventError("Cet événement est annulé : il ne peut plus être modifié.")
    before = _calendar_view(event)
    for name, value in data.__dict__.items():
        setattr(event, name, value)
    changed = _calendar_view(event) != before
    if changed:
        event.sequence += 1
        jobs.enqueue(db, "tasks.events.send_notices", event.id)
    db.flush()
    # More seats, or no longer closed by hand: the waitlist moves up, in order.
    services.promote(db, event, now)
    return changed


def cancel_event(db: Session, event: Event) -> bool:
    """Cancel the event: STATUS:CANCELLED, SEQUENCE + 1, and the cancellation to everyone
    registered (after COMMIT). False if it was already cancelled."""
    event = services.lock_event(db, event)
    if event.is_cancelled:
        return False
    event.status = EventStatus.cancelled
    event.sequence += 1
    jobs.enqueue(db, "tasks.events.send_notices", event.id)
    db.flush()
    return True


__all__ = ["EventData", "EventError", "audience", "create_event", "update_event", "cancel_event"]
