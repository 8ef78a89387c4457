"""The RGPD rights of a subscriber: export (access, portability) and erasure.

What a person left with us lives in several packages: the subscriber's record, consent proofs and
history here; deliveries and bounces in the ledger (mailing); the letters' names in newsletter;
event registrations in events. The packages above register what they hold with
`register_personal_data` (wired in parentalites/bootstrap.py), so that `export_data` and `erase`
cover everything without importing them.

An erasure deletes the personal data and keeps what the statistics need anonymised: deliveries and
bounces stay, with no subscriber and no address. When the address was suppressed for a hard bounce
or a complaint, only a keyed hash of it (HMAC-SHA-256, `address_hash`) stays in `suppressed_hashes`,
so that it is never mailed again: a later subscription or import of that address does nothing.
Every export and erasure is recorded in `privacy_requests`: who (an editor's address, or the person
themself), when, by which channel, and the hash of the address, never the address.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import site_settings
from core.db import affected_rows, among, utcnow
from core.settings import get_settings
from mailing.models import Delivery, DeliveryStatus, OutboundEmail
from subscribers.models import (
    LEGAL_BASIS_LABELS,
    ROLES,
    TOPICS,
    Bounce,
    BounceKind,
    ConsentRecord,
    PrivacyRequest,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
    SuppressedHash,
)

log = logging.getLogger(__name__)

# Fixed salt of the hash key: the key is derived from SECRET_KEY, so the hashes are useless to
# anyone who has the table and not the key. Changing SECRET_KEY makes the old hashes unmatchable.
_HASH_SALT = b"parentalites/suppressed-address/v1"

CHANNELS = ("web", "mail", "retention")


def _hash_key() -> bytes:
    return hmac.new(get_settings().secret_key.encode("utf-8"), _HASH_SALT, hashlib.sha256).digest()


def address_hash(address: str, key: bytes | None = None) -> str:
    """Keyed hash (HMAC-SHA-256, hex) of an address, trimmed and lower-cased as stored."""
    return hmac.new(key or _hash_key(), (address or "").strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


def is_suppressed_hash(db: Session, address: str) -> bool:
    """True if this address was erased after a hard bounce or a complaint: never mail it again."""
    return db.scalar(select(SuppressedHash.id).where(SuppressedHash.address_hash == address_hash(address))) is not None


def suppressed_among(db: Session, addresses: Iterable[str], chunk: int = 5000) -> set[str]:
    """Which of these addresses are in the suppression list (one query per `chunk` addresses: an
    import checks a whole file at once)."""
    key = _hash_key()
    by_hash = {address_hash(a, key): a for a in addresses}
    hashes = list(by_hash)
    found: set[str] = set()
    for start in range(0, len(hashes), chunk):
        part = hashes[start:start + chunk]
        found.update(by_hash[h] for h in db.scalars(
            select(SuppressedHash.address_hash).where(among(db, SuppressedHash.address_hash, part))))
    return found


def suppress_hash(db: Session, address: str, reason: str) -> None:
    """Keep only the keyed hash of the address in the suppression list (once)."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.execute(insert(SuppressedHash).values(address_hash=address_hash(address), reason=reason, at=utcnow())
               .on_conflict_do_nothing(index_elements=["address_hash"]))


# --- What the packages above hold ------------------------------------------------------------------

@dataclass(frozen=True)
class PersonalData:
    """One kind of personal data held above subscribers. `export(db, subscriber)` gives a list of
    JSON-able dicts; `erase(db, subscriber)` deletes or anonymises them and returns how many rows
    it touched. Both run before the subscriber's row is deleted."""
    name: str
    export: Callable[[Session, Subscriber], list[dict[str, Any]]] | None = None
    erase: Callable[[Session, Subscriber], int] | None = None


_registry: dict[str, PersonalData] = {}


def register_personal_data(name: str, export: Callable | None = None, erase: Callable | None = None) -> None:
    """Called by the bootstrap for each package that holds personal data (newsletter: deliveries
    with the letters' names; events: registrations). Registering a name again replaces it."""
    _registry[name] = PersonalData(name, export, erase)


def registered() -> dict[str, PersonalData]:
    return dict(_registry)


# --- Export ------------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def subscriber_record(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "email": subscriber.email, "name": subscriber.name, "structure": subscriber.structure_name,
        "status": subscriber.status.value,
        "legal_basis": subscriber.legal_basis.value if subscriber.legal_basis else None,
        "legal_basis_label": LEGAL_BASIS_LABELS.get(subscriber.legal_basis) if subscriber.legal_basis else None,
        "source": subscriber.source, "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at), "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "suppressed_at": _iso(subscriber.suppressed_at), "suppressed_reason": subscriber.suppressed_reason,
        "last_activity_at": _iso(subscriber.last_activity_at),
        "repermission_sent_at": _iso(subscriber.repermission_sent_at),
    }


def export_data(db: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Everything we hold about this subscriber, JSON-able (dates in ISO 8601, UTC)."""
    consents = [{
        "action": c.action, "at": _iso(c.at), "ip": c.ip, "user_agent": c.user_agent, "source": c.source,
        "details": c.details, "text": c.wording,
        "version": ({"id": c.version.id, "purpose": c.version.purpose, "since": _iso(c.version.created_at),
                     "text_sha256": c.version.text_hash} if c.version else None),
    } for c in db.scalars(select(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber.id)
                          .order_by(ConsentRecord.at, ConsentRecord.id))]
    history = [{"kind": e.kind, "detail": e.detail, "by_editor": e.actor, "at": _iso(e.at)}
               for e in db.scalars(select(SubscriberEvent).where(SubscriberEvent.subscriber_id == subscriber.id)
                                   .order_by(SubscriberEvent.at, SubscriberEvent.id))]
    bounces = [{"kind": b.kind.value, "received_at": _iso(b.received_at), "status_code": b.status_code,
                "diagnostic": b.diagnostic, "email": b.email}
               for b in db.scalars(select(Bounce).where(Bounce.subscriber_id == subscriber.id)
                                   .order_by(Bounce.received_at, Bounce.id))]
    data: dict[str, Any] = {
        "generated_at": _iso(utcnow()),
        "controller": {"name": "Lettre Parentalités", "contact": site_settings.current().privacy_contact},
        "subscriber": subscriber_record(subscriber),
        "preferences": {
            "topics": [{"key": t, "label": TOPICS.get(t, t)} for t in (subscriber.topics or [])],
            "role": ({"key": subscriber.role, "label": ROLES.get(subscriber.role, subscriber.role)}
                     if subscriber.role else None),
            "commune": subscriber.commune, "departement": subscriber.departement,
        },
        "consents": consents,
        "history": history,
        "bounces": bounces,
    }
    for name, holder in sorted(_registry.items()):
        if holder.export is not None:
            data[name] = holder.export(db, subscriber)
    return data


def record_request(db: Session, kind: str, address: str, subscriber_id: int | None, actor: str | None,
                   channel: str, note: str | None = None) -> PrivacyRequest:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    request = PrivacyRequest(kind=kind, subject_hash=address_hash(address), subscriber_id=subscriber_id,
                             actor=actor, channel=channel, note=(note or "").strip() or None)
    db.add(request)
    db.flush()
    return request


def export_for_request(db: Session, subscriber: Subscriber, actor: str | None = None, channel: str = "web",
                       note: str | None = None) -> dict[str, Any]:
    """The export, recorded as a request carried out."""
    data = export_data(db, subscriber)
    record_request(db, "export", subscriber.email, subscriber.id, actor, channel, note)
    return data


# --- Erasure -----------------------------------------------------------------------------------

def suppression_reason(db: Session, subscriber: Subscriber) -> str | None:
    """'hard_bounce' or 'complaint' when this address must never be mailed again, else None."""
    kinds = set(db.scalars(select(Bounce.kind).where(
        Bounce.subscriber_id == subscriber.id, Bounce.kind.in_([BounceKind.hard, BounceKind.complaint]))))
    if BounceKind.complaint in kinds or any(c.action == "unsubscribe:complaint" for c in subscriber.consents):
        return "complaint"
    if BounceKind.hard in kinds or (subscriber.status is SubscriberStatus.suppressed
                                    and (subscriber.suppressed_reason or "").startswith("Rebond définitif")):
        return "hard_bounce"
    return None


@dataclass
class Erasure:
    subject_hash: str
    suppressed: str | None  # the reason kept with the hash, or None
    deliveries_kept: int
    deliveries_deleted: int
    bounces_kept: int
    outbox_deleted: int
    others: dict[str, int]


def erase(db: Session, subscriber: Subscriber, actor: str | None = None, channel: str = "web",
          note: str | None = None) -> Erasure:
    """Delete this subscriber's personal data (the caller commits). Deliveries and bounces stay
    anonymised; queued deliveries and outbox e-mails to the address go; the packages above erase
    or anonymise what they hold; a hard bounce or a complaint leaves the keyed hash only."""
    address = subscriber.email
    digest = address_hash(address)
    reason = suppression_reason(db, subscriber)
    if reason:
        suppress_hash(db, address, reason)
    others = {name: holder.erase(db, subscriber) for name, holder in sorted(_registry.items())
              if holder.erase is not None}
    # Not sent yet: gone. One a worker holds right now (claimed) may be on the wire: it stays, anonymised,
    # and the worker records its outcome on it as usual.
    deleted = affected_rows(db.execute(delete(Delivery).where(
        Delivery.subscriber_id == subscriber.id, Delivery.status == DeliveryStatus.queued)))
    kept = affected_rows(db.execute(update(Delivery).where(Delivery.subscriber_id == subscriber.id)
                                    .values(subscriber_id=None)))
    bounces = affected_rows(db.execute(update(Bounce).where(or_(Bounce.subscriber_id == subscriber.id,
                                                                func.lower(Bounce.email) == address))
                                       .values(subscriber_id=None, email=None, diagnostic=None)))
    outbox = affected_rows(db.execute(delete(OutboundEmail).where(func.lower(OutboundEmail.to_addr) == address)))
    record_request(db, "erase", address, None, actor, channel, note)
    db.execute(update(PrivacyRequest).where(PrivacyRequest.subscriber_id == subscriber.id)
               .values(subscriber_id=None))
    db.delete(subscriber)
    db.flush()
    log.info("subscriber erased (%s, channel %s): %d deliveries kept anonymised, %d bounces, %d outbox e-mails "
             "deleted%s", digest[:12], channel, kept, bounces, outbox, f", hash kept ({reason})" if reason else "")
    return Erasure(digest, reason, kept, deleted, bounces, outbox, others)
