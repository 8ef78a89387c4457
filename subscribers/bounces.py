"""Bounces: ingestion and the suppression policy (VERP is mailing/verp.py, classification
mailing/dsn.py).

Bounces arrive from a Maildir or an IMAP mailbox (polled by beat) or from a webhook;
each is classified with `flufl.bounce` and the DSN status codes, stored, and the policy applied:

- hard bounce: the address is suppressed at once;
- soft bounce: suppressed once there are 3 in 30 days;
- delayed DSN, auto-reply, anything not understood: stored, no effect;
- ARF complaint: unsubscribed (with a consent record) and suppressed.

A suppressed address is never planned again: the planner only plans active subscribers.
"""
from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from core.db import utcnow
from mailing.dsn import BounceReport, classify, normalise_status
from mailing.models import Delivery
from mailing.verp import parse_verp
from subscribers import history
from subscribers.models import (
    Bounce,
    BounceKind,
    ConsentRecord,
    Subscriber,
    SubscriberStatus,
)

log = logging.getLogger(__name__)

SOFT_LIMIT = 3
SOFT_WINDOW = timedelta(days=30)
REASON_SOFT = "3 rebonds temporaires en 30 jours"
REASON_COMPLAINT = "Plainte pour courrier indésirable (signalement ARF)"
KINDS = {kind.value for kind in BounceKind}

# --- Recording and policy -----------------------------------------------------------------------

def _subscribers_for(db: Session, report: BounceReport) -> tuple[Delivery | None, list[Subscriber | None]]:
    if report.delivery_id is not None:
        delivery = db.get(Delivery, report.delivery_id)
        if delivery is not None:
            return delivery, [db.get(Subscriber, delivery.subscriber_id)]
    if not report.recipients:
        return None, []
    found = db.scalars(select(Subscriber).where(func.lower(Subscriber.email).in_(sorted(report.recipients)))
                       .order_by(Subscriber.id))
    subscribers: list[Subscriber | None] = list(found)
    return None, subscribers


def _suppress(db: Session, subscriber: Subscriber, reason: str, now: datetime) -> None:
    if subscriber.status is SubscriberStatus.suppressed:
        return  # the first reason stays the reason
    subscriber.status = SubscriberStatus.suppressed
    subscriber.suppressed_reason = reason
    subscriber.suppressed_at = now
    history.record(db, subscriber, "suppressed", reason, at=now)


def _hard_reason(report: BounceReport) -> str:
    detail = " ".join((report.diagnostic or "").split())[:200]
    code = f" ({report.status})" if report.status else ""
    return f"Rebond définitif{code}" + (f" : {detail}" if detail else "")


def _apply_policy(db: Session, subscriber: Subscriber, bounce: Bounce, report: BounceReport) -> None:
    now = bounce.received_at
    if report.kind == "hard":
        _suppress(db, subscriber, _hard_reason(report), now)
    elif report.kind == "complaint":
        # A complaint withdraws consent: recorded like an unsubscription, then never mailed again.
        if subscriber.status is not SubscriberStatus.suppressed:
            db.add(ConsentRecord(subscriber=subscriber, action="unsubscribe:complaint",
                                 wording=report.diagnostic))
            if subscriber.status is not SubscriberStatus.unsubscribed:
                subscriber.unsubscribed_at = now
        _suppress(db, subscriber, REASON_COMPLAINT, now)
    elif report.kind == "soft":
        db.flush()
        recent = db.scalar(select(func.count(Bounce.id)).where(
            Bounce.subscriber_id == subscriber.id, Bounce.kind == BounceKind.soft,
            Bounce.received_at > now - SOFT_WINDOW, Bounce.received_at <= now)) or 0
        if recent >= SOFT_LIMIT:
            _suppress(db, subscriber, REASON_SOFT, now)
    # delayed, autoreply, unknown: kept for the record only


def record_bounce(db: Session, report: BounceReport, raw: bytes | None, source: str,
                  received_at: datetime | None = None) -> Bounce | None:
    """Store the report and apply the policy to the subscriber it names. Returns the (first)
    Bounce row, or None when this raw message was already recorded."""
    digest = hashlib.sha256(raw).hexdigest() if raw is not None else None
    if digest and db.scalar(select(Bounce.id).where(Bounce.message_hash == digest).limit(1)):
        return None
    kind = report.kind if report.kind in KINDS else "unknown"
    report.kind = kind
    delivery, subscribers = _subscribers_for(db, report)
    now = received_at or utcnow()
    rows: list[Bounce] = []
    for subscriber in subscribers or [None]:
        address = (subscriber.email if subscriber is not None
                   else next(iter(sorted(report.recipients)), None))
        bounce = Bounce(subscriber_id=subscriber.id if subscriber else None,
                        delivery_id=delivery.id if delivery else None,
                        kind=BounceKind(kind), email=address, status_code=report.status,
                        diagnostic=(report.diagnostic or None) and report.diagnostic[:2000],
                        source=source[:32], message_hash=digest, received_at=now)
        db.add(bounce)
        rows.append(bounce)
        if subscriber is not None:
            _apply_policy(db, subscriber, bounce, report)
    db.flush()
    for bounce in rows:
        log.info("bounce %s (%s) recorded for subscriber %s", bounce.id, kind, bounce.subscriber_id)
    return rows[0]


# --- Ingestion ----------------------------------------------------------------------------------

def ingest_message(db: Session, raw: bytes, source: str) -> Bounce | None:
    """Record one message of a bounce mailbox, committed: the mailbox marks it seen next."""
    bounce = record_bounce(db, classify(raw), raw, source)
    db.commit()  # durable before the mailbox forgets the message (seen, moved or deleted)
    return bounce


def ingest_maildir(db: Session, path: Path, delete: bool = False) -> int:
    """Process every new message of a Maildir, then mark it seen (moved to cur/ with the S flag)
    or delete it, so that the next poll does not count it again. Returns messages processed."""
    path = Path(path)
    count = 0
    candidates = sorted((path / "new").glob("*")) + sorted(
        p for p in (path / "cur").glob("*") if "S" not in p.name.rpartition(":2,")[2] or ":2," not in p.name)
    for file in candidates:
        if not file.is_file() or file.name.startswith("."):
            continue
        try:
            raw = file.read_bytes()
        except FileNotFoundError:  # another poll took it first
            continue
        try:
            ingest_message(db, raw, "maildir")
        except Exception:  # noqa: BLE001  one bad message must not block the mailbox
            db.rollback()
            log.exception("bounce %s could not be processed; left in place", file.name)
            continue
        count += 1
        if delete:
            file.unlink(missing_ok=True)
        else:
            base, _, flags = file.name.partition(":2,")
            (path / "cur").mkdir(exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                file.rename(path / "cur" / f"{base}:2,{''.join(sorted(set(flags + 'S')))}")
    return count


@dataclass
class ImapConfig:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    ssl: bool = True


def parse_imap_url(url: str) -> ImapConfig:
    """`imaps://user:password@host:993/INBOX` (or `imap://`, port 143); user and password may be
    percent-encoded (an @ in a login is %40)."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        # The URL holds a password: never repeat it in an error.
        raise ValueError("BOUNCE_IMAP_URL invalide (attendu imaps://utilisateur:mot-de-passe@hôte:993/DOSSIER)")
    ssl = parts.scheme == "imaps"
    return ImapConfig(host=parts.hostname, port=parts.port or (993 if ssl else 143),
                      user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                      folder=unquote(parts.path.lstrip("/")) or "INBOX", ssl=ssl)


def _uid(connection: imaplib.IMAP4, command: str, *args: str | bytes | None) -> tuple[str, list[Any]]:
    """IMAP4.uid. imaplib sends a bytes argument as it is and skips a None; typeshed allows str only."""
    return connection.uid(command, *args)  # type: ignore[arg-type]  # bytes and None: see above


def ingest_imap(db: Session, host: str, port: int, user: str, password: str, folder: str = "INBOX",
                ssl: bool = True, delete: bool = False) -> int:
    """Process the unseen messages of an IMAP folder, marking each \\Seen (or deleting it) once
    recorded. Returns messages processed."""
    connection = (imaplib.IMAP4_SSL if ssl else imaplib.IMAP4)(host, port)
    count = 0
    try:
        connection.login(user, password)
        connection.select(f'"{folder}"' if " " in folder else folder)
        _, data = _uid(connection, "SEARCH", None, "UNSEEN")
        for uid in (data[0] or b"").split():
            _, fetched = _uid(connection, "FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched or [] if isinstance(item, tuple)), None)
            if raw is None:
                continue
            try:
                ingest_message(db, raw, "imap")
            except Exception:  # noqa: BLE001
                db.rollback()
                log.exception("IMAP message %s could not be processed; left unseen", uid)
                continue
            count += 1
            _uid(connection, "STORE", uid, "+FLAGS", "(\\Deleted)" if delete else "(\\Seen)")
        if delete:
            connection.expunge()
    finally:
        with contextlib.suppress(Exception):  # the messages are handled: a failed goodbye changes nothing
            connection.logout()
    return count


def ingest_imap_url(db: Session, url: str) -> int:
    config = parse_imap_url(url)
    return ingest_imap(db, config.host, config.port, config.user, config.password, config.folder, config.ssl)


class PayloadError(ValueError):
    """A webhook payload that cannot be read; the message says why."""


WEBHOOK_TYPES = {"hard", "soft", "complaint", "delayed", "autoreply", "unknown"}


def report_from_json(payload: dict) -> BounceReport:
    """Read one event of the generic webhook: {"email", "type": hard|soft|complaint|delayed,
    "status", "diagnostic", "delivery": VERP address or ""}. Raises PayloadError."""
    if not isinstance(payload, dict):
        raise PayloadError("each event must be a JSON object")
    kind = str(payload.get("type") or "").strip().lower()
    if kind not in WEBHOOK_TYPES:
        raise PayloadError(f"'type' must be one of {', '.join(sorted(WEBHOOK_TYPES))}")
    address = str(payload.get("email") or "").strip().lower()
    delivery = str(payload.get("delivery") or "").strip()
    if not address and not delivery:
        raise PayloadError("'email' or 'delivery' is required")
    if address and ("@" not in address or len(address) > 254):
        raise PayloadError("'email' is not an e-mail address")
    status = normalise_status(str(payload.get("status") or ""))
    diagnostic = str(payload.get("diagnostic") or "")[:2000] or None
    # A forged or foreign VERP address names no delivery: the e-mail address decides then.
    delivery_id = parse_verp(delivery) if delivery else None
    return BounceReport(kind, {address} if address else set(), delivery_id, status, diagnostic)


def ingest_json(db: Session, payload: dict) -> Bounce | None:
    """Record one webhook event (see report_from_json). Raises PayloadError."""
    return record_bounce(db, report_from_json(payload), None, "webhook")


# --- The editors' view --------------------------------------------------------------------------

def suppressed_subscribers(db: Session, bounces_each: int = 3) -> list[tuple[Subscriber, list[Bounce]]]:
    """Suppressed subscribers, latest first, each with their last few bounces."""
    people = list(db.scalars(select(Subscriber).where(Subscriber.status == SubscriberStatus.suppressed)
                             .order_by(Subscriber.suppressed_at.desc().nulls_last(), Subscriber.id.desc())))
    recent: dict[int, list[Bounce]] = {person.id: [] for person in people}
    if people:
        ranked = (select(Bounce, func.row_number().over(partition_by=Bounce.subscriber_id,
                                                        order_by=(Bounce.received_at.desc(), Bounce.id.desc()))
                         .label("rank"))
                  .where(Bounce.subscriber_id.in_(list(recent))).subquery())
        row = aliased(Bounce, ranked)
        for bounce in db.scalars(select(row).where(ranked.c.rank <= bounces_each)
                                 .order_by(row.subscriber_id, row.received_at.desc(), row.id.desc())):
            assert bounce.subscriber_id is not None  # selected by subscriber_id IN (...)
            recent[bounce.subscriber_id].append(bounce)
    return [(person, recent[person.id]) for person in people]
