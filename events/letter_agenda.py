"""The network's events as the letter's Agenda shows them: registered with newsletter.agenda by the
bootstrap (the letter never imports this layer)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import site_settings
from core.db import utcnow
from core.settings import get_settings
from events.models import Event, EventStatus
from events.services import event_path, is_full, registration_open
from newsletter.agenda import AgendaEntry, AgendaSource

UPCOMING_LIMIT = 50


def _entry(db: Session, event: Event) -> AgendaEntry:
    place = ", ".join(p for p in (event.place, event.address) if p) or ("En ligne" if event.online_url else "")
    return AgendaEntry(
        event_id=event.id, title=event.title, starts_at=event.starts_at, ends_at=event.ends_at, place=place,
        organiser=event.organiser or site_settings.current().network_name, summary_md=event.description_md or "",
        register_url=get_settings().base_url + event_path(event), full=is_full(db, event),
        open_for_registration=registration_open(event))


def upcoming(db: Session) -> list[AgendaEntry]:
    """The network's events to come, not cancelled, soonest first."""
    events = db.scalars(select(Event).where(Event.starts_at > utcnow(), Event.status != EventStatus.cancelled)
                        .order_by(Event.starts_at).limit(UPCOMING_LIMIT))
    return [_entry(db, event) for event in events]


def entries(db: Session, event_ids: Iterable[int]) -> dict[int, AgendaEntry]:
    events = db.scalars(select(Event).where(Event.id.in_(list(event_ids))))
    return {event.id: _entry(db, event) for event in events}


SOURCE = AgendaSource(upcoming=upcoming, entries=entries)
