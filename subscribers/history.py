"""A subscriber's history as the editors see it (`/redaction/abonnes/<id>`).

Two halves:

- `record(db, subscriber, kind, detail, actor)` writes a SubscriberEvent: the services call it when
  someone subscribes, confirms, changes their preferences, leaves, is suppressed, and the editors'
  actions (edit, unsubscribe, lift a suppression) call it with the editor's address as actor.
- `history(db, subscriber)` merges, most recent first, those events, the bounces and complaints
  (this package's own tables), and what the layers above register with `register_source`: the
  letters and invitations with their delivery outcome (newsletter/history.py, which knows the
  issues) and the event registrations (events/history.py). The bootstrap wires them; this package
  never imports a layer above it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from subscribers.models import Bounce, BounceKind, Subscriber, SubscriberEvent


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str              # a short key (CSS class, tests): event:<kind>, delivery, bounce, registration…
    label: str             # French, shown as the entry's title
    detail: str | None = None
    actor: str | None = None  # the editor's address when an editor did it


Source = Callable[[Session, Subscriber], list[HistoryEntry]]

_sources: list[Source] = []

# The kinds the services and the editors' actions record, with their label.
EVENT_LABELS = {
    "subscribed": _l("Demande d'abonnement"),
    "confirmed": _l("Abonnement confirmé"),
    "preferences": _l("Préférences modifiées"),
    "unsubscribed": _l("Désabonnement"),
    "suppressed": _l("Adresse suspendue"),
    "unsuppressed": _l("Suspension levée"),
    "edited": _l("Fiche modifiée par la rédaction"),
    "imported": _l("Importé"),
    "import_updated": _l("Mis à jour par un import"),  # subs-import writes these two kinds
}

BOUNCE_LABELS = {
    BounceKind.hard: _l("Rebond définitif"),
    BounceKind.soft: _l("Rebond temporaire"),
    BounceKind.delayed: _l("Distribution retardée"),
    BounceKind.autoreply: _l("Réponse automatique"),
    BounceKind.complaint: _l("Plainte pour courrier indésirable"),
    BounceKind.unknown: _l("Retour non reconnu"),
}


def register_source(source: Source) -> Source:
    """Add a source of history entries (called by the bootstrap; twice does nothing more)."""
    if source not in _sources:
        _sources.append(source)
    return source


def record(db: Session, subscriber: Subscriber, kind: str, detail: str | None = None,
           actor: str | None = None, at: datetime | None = None) -> SubscriberEvent:
    """Write one line of the subscriber's history (flushed with the caller's transaction)."""
    if subscriber.id is None:
        db.flush()  # a new subscriber gets its id
    event = SubscriberEvent(subscriber_id=subscriber.id, kind=kind[:40], detail=detail,
                            actor=(actor or None) and actor[:254], at=at or utcnow())
    db.add(event)
    return event


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _events(db: Session, subscriber: Subscriber) -> list[HistoryEntry]:
    rows = db.scalars(select(SubscriberEvent).where(SubscriberEvent.subscriber_id == subscriber.id))
    return [HistoryEntry(at=e.at, kind=f"event:{e.kind}", label=str(EVENT_LABELS.get(e.kind, e.kind)),
                         detail=e.detail, actor=e.actor) for e in rows]


def _bounces(db: Session, subscriber: Subscriber) -> list[HistoryEntry]:
    rows = db.scalars(select(Bounce).where(Bounce.subscriber_id == subscriber.id))
    entries = []
    for b in rows:
        detail = " — ".join(part for part in (b.status_code, " ".join((b.diagnostic or "").split())[:300]) if part)
        kind = "complaint" if b.kind is BounceKind.complaint else "bounce"
        entries.append(HistoryEntry(at=b.received_at, kind=kind, label=str(BOUNCE_LABELS[b.kind]),
                                    detail=detail or None))
    return entries


def history(db: Session, subscriber: Subscriber) -> list[HistoryEntry]:
    """Every entry from every source, most recent first (ties: the order of the sources)."""
    entries: list[HistoryEntry] = []
    for source in (_events, _bounces, *_sources):
        entries.extend(source(db, subscriber))
    return sorted(entries, key=lambda entry: _aware(entry.at), reverse=True)
