"""Bounces: ingestion and the suppression policy (VERP is mailing/verp.py, classification
mailing/dsn.py).

Bounces arrive from a Maildir or an IMAP mailbox (polled by beat) or from a webhook;
each is classified with `flufl.bounce` and the DSN status codes, stored, and the policy applied:

- hard bounce: the address is suppressed at once;
- soft bounce: suppressed once there are 3 in 30 days;
- delayed DSN, auto-reply, anything not understood: stored, no effect;
- ARF complaint: unsubscribed (with a consent record) and suppressed.

Anyone can write to the bounce address, so a report received by mail concerns the subscriber of
the delivery its verified VERP return path names, and nobody else: without one (or when it names
other subscribers than that delivery's) it is recorded as ignored and changes nobody. Only the
webhook, authenticated by its token, may name a subscriber by address.

Every message is read bounded (mailing.dsn.bounded); a message whose reading fails twice is set
aside (a `.quarantine` Maildir folder, a BounceMessage row shown to the editors) and never read again.
A mailbox that cannot be read (wrong password, missing folder, unverifiable certificate, no answer)
is told to the editors once (MailboxProblem, an e-mail), not taken for a quiet poll.

A suppressed address is never planned again: the planner only plans active subscribers.
"""
from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from accounts.models import Role, User
from core import urls
from core.db import utcnow
from core.settings import get_settings
from mailing.dsn import MAX_PARSE_BYTES, BounceReport, classify, normalise_status
from mailing.models import Delivery
from mailing.outbox import queue_email
from mailing.verp import parse_verp
from subscribers import history
from subscribers.models import (
    Bounce,
    BounceKind,
    BounceMessage,
    ConsentRecord,
    MailboxProblem,
    Subscriber,
    SubscriberStatus,
)

log = logging.getLogger(__name__)

SOFT_LIMIT = 3
SOFT_WINDOW = timedelta(days=30)
REASON_SOFT = "3 rebonds temporaires en 30 jours"
REASON_COMPLAINT = "Plainte pour courrier indésirable (signalement ARF)"
KINDS = {kind.value for kind in BounceKind}
# Shown to the editors on the bounces page (French: the product speaks French; the rows keep it).
IGNORED_NO_VERP = "Ignoré : sans chemin de retour VERP valide, ce rapport ne peut concerner personne"
IGNORED_OTHERS = "Ignoré : le rapport nomme d'autres abonnés que le destinataire de cet envoi"
EFFECTIVE_KINDS = {"hard", "soft", "complaint"}
TRUSTED_SOURCES = {"webhook"}  # authenticated by its bearer token: the address it names decides
MAX_ATTEMPTS = 2               # a message whose reading failed this often is quarantined
QUARANTINE_FOLDER = ".quarantine"

# --- Recording and policy -----------------------------------------------------------------------

def _subscribers_for(db: Session, report: BounceReport,
                     source: str) -> tuple[Delivery | None, list[Subscriber | None], str | None]:
    """The delivery and subscribers a report concerns, and why it is ignored if it concerns nobody."""
    if report.delivery_id is not None:
        delivery = db.get(Delivery, report.delivery_id)
        if delivery is not None:
            subscriber = db.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
            own = subscriber.email.lower() if subscriber is not None else None
            others = sorted(report.recipients - {own}) if report.recipients else []
            if others and db.scalar(select(func.count(Subscriber.id)).where(
                    func.lower(Subscriber.email).in_(others), Subscriber.id != delivery.subscriber_id)):
                # Someone's own return path around a report about other subscribers: a forgery.
                return delivery, [], IGNORED_OTHERS
            # Other addresses that are nobody's here are the remote server's name for this one
            # (a forwarding address): the return path decides.
            return delivery, [subscriber], None
    if source in TRUSTED_SOURCES and report.recipients:
        found = db.scalars(select(Subscriber).where(func.lower(Subscriber.email).in_(sorted(report.recipients)))
                           .order_by(Subscriber.id))
        return None, list(found), None
    return None, [], IGNORED_NO_VERP if report.kind in EFFECTIVE_KINDS else None


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
    delivery, subscribers, ignored = _subscribers_for(db, report, source)
    now = received_at or utcnow()
    rows: list[Bounce] = []
    for subscriber in subscribers or [None]:
        address = (subscriber.email if subscriber is not None
                   else next(iter(sorted(report.recipients)), None))
        bounce = Bounce(subscriber_id=subscriber.id if subscriber else None,
                        delivery_id=delivery.id if delivery else None,
                        kind=BounceKind(kind), email=address, status_code=report.status,
                        diagnostic=(report.diagnostic or None) and report.diagnostic[:2000],
                        source=source[:32], message_hash=digest, received_at=now,
                        rule=report.rule, ignored_reason=ignored)
        db.add(bounce)
        rows.append(bounce)
        if subscriber is not None:
            _apply_policy(db, subscriber, bounce, report)
    db.flush()
    for bounce in rows:
        if bounce.ignored_reason:
            log.warning("bounce %s (%s, %s) ignored: %s", bounce.id, kind, bounce.email, bounce.ignored_reason)
        else:
            log.info("bounce %s (%s) recorded for subscriber %s", bounce.id, kind, bounce.subscriber_id)
    return rows[0]


# --- Ingestion ----------------------------------------------------------------------------------

def ingest_message(db: Session, raw: bytes, source: str) -> Bounce | None:
    """Record one message of a bounce mailbox, committed: the mailbox marks it seen next."""
    bounce = record_bounce(db, classify(raw), raw, source)
    db.commit()  # durable before the mailbox forgets the message (seen, moved or deleted)
    return bounce


def _summary(raw: bytes) -> tuple[str | None, str | None]:
    """Sender and subject of a message, for the editors, read from its headers only."""
    from email.parser import BytesHeaderParser
    headers = BytesHeaderParser().parsebytes(raw.split(b"\n\n", 1)[0][:8192])
    return (str(headers.get("From", ""))[:254] or None), (str(headers.get("Subject", ""))[:300] or None)


def read_message(db: Session, raw: bytes, source: str) -> str:
    """Read one message of a bounce mailbox (only its first MAX_PARSE_BYTES bytes are ever given):
    "recorded", "failed" (left for the next poll) or "quarantined" (set aside for good).

    The attempt is committed before the parse, so that a parse that kills its worker (a time limit)
    counts too; the row is deleted with the recorded bounce."""
    raw = raw[:MAX_PARSE_BYTES]
    digest = hashlib.sha256(raw).hexdigest()
    held = db.scalar(select(BounceMessage).where(BounceMessage.message_hash == digest))
    if held is not None and (held.quarantined_at is not None or held.attempts >= MAX_ATTEMPTS):
        if held.quarantined_at is None:
            held.quarantined_at = utcnow()
            held.error = held.error or "le traitement n'a pas abouti (interrompu)"
            db.commit()
        return "quarantined"
    if held is None:
        sender, subject = _summary(raw)
        held = BounceMessage(message_hash=digest, source=source[:32], sender=sender, subject=subject,
                             size=len(raw), attempts=0)
        db.add(held)
    held.attempts += 1
    try:
        db.commit()
    except IntegrityError:  # another poll is reading the same message right now: leave it to that one
        db.rollback()
        return "failed"
    try:
        ingest_message(db, raw, source)
    except Exception as exc:  # noqa: BLE001  one bad message must not block the mailbox
        db.rollback()
        log.exception("bounce message %s could not be processed (attempt %s)", digest[:12], held.attempts)
        held = db.get(BounceMessage, held.id)
        if held is None:
            return "failed"
        held.error = f"{type(exc).__name__}: {exc}"[:2000]
        if held.attempts >= MAX_ATTEMPTS:
            held.quarantined_at = utcnow()
        db.commit()
        return "quarantined" if held.quarantined_at else "failed"
    db.execute(delete(BounceMessage).where(BounceMessage.message_hash == digest))
    db.commit()
    return "recorded"


def _read_head(file: Path) -> bytes:
    with file.open("rb") as f:
        return f.read(MAX_PARSE_BYTES)


def ingest_maildir(db: Session, path: Path, delete: bool = False) -> int:
    """Process every new message of a Maildir, then mark it seen (moved to cur/ with the S flag)
    or delete it, so that the next poll does not count it again; a message that failed twice goes
    to the `.quarantine` folder. Returns messages processed."""
    path = Path(path)
    count = 0
    candidates = sorted((path / "new").glob("*")) + sorted(
        p for p in (path / "cur").glob("*") if "S" not in p.name.rpartition(":2,")[2] or ":2," not in p.name)
    for file in candidates:
        if not file.is_file() or file.name.startswith("."):
            continue
        try:
            raw = _read_head(file)
        except FileNotFoundError:  # another poll took it first
            continue
        outcome = read_message(db, raw, "maildir")
        if outcome == "failed":
            continue  # left in place: one more try at the next poll
        base, _, flags = file.name.partition(":2,")
        if outcome == "quarantined":
            target = path / QUARANTINE_FOLDER
            for sub in ("cur", "new", "tmp"):
                (target / sub).mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                file.rename(target / "cur" / f"{base}:2,{''.join(sorted(set(flags + 'S')))}")
            continue
        count += 1
        if delete:
            file.unlink(missing_ok=True)
        else:
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
    """`imaps://user:password@host:993/INBOX` (or `imap://`, port 143, with STARTTLS); user and
    password may be percent-encoded (an @ in a login is %40)."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        # The URL holds a password: never repeat it in an error.
        raise ValueError("BOUNCE_IMAP_URL invalide (attendu imaps://utilisateur:mot-de-passe@hôte:993/DOSSIER)")
    ssl = parts.scheme == "imaps"
    return ImapConfig(host=parts.hostname, port=parts.port or (993 if ssl else 143),
                      user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                      folder=unquote(parts.path.lstrip("/")) or "INBOX", ssl=ssl)


class MailboxError(Exception):
    """A bounce mailbox that cannot be read. `problem` is a short key (login, folder, tls,
    timeout, network, maildir), `detail` a French sentence for the editors (never a password)."""

    def __init__(self, problem: str, detail: str):
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


def _uid(connection: imaplib.IMAP4, command: str, *args: str | bytes | None) -> tuple[str, list[Any]]:
    """IMAP4.uid. imaplib sends a bytes argument as it is and skips a None; typeshed allows str only."""
    return connection.uid(command, *args)  # type: ignore[arg-type]  # bytes and None: see above


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """Certificates verified and the host name checked (ssl's defaults); `ca_file` for a private CA."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def connect_imap(host: str, port: int, use_ssl: bool = True, *, timeout: float = 30.0,
                 ca_file: Path | None = None, allow_plaintext: bool = False) -> imaplib.IMAP4:
    """A connection whose server certificate has been verified, before any login is sent: IMAPS,
    or IMAP upgraded with STARTTLS; plain IMAP only when `allow_plaintext`. Every socket
    operation times out after `timeout` seconds. Raises MailboxError."""
    where = f"{host}:{port}"
    try:
        if use_ssl:
            return imaplib.IMAP4_SSL(host, port, ssl_context=tls_context(ca_file), timeout=timeout)
        connection = imaplib.IMAP4(host, port, timeout=timeout)
        if "STARTTLS" in connection.capabilities:
            connection.starttls(ssl_context=tls_context(ca_file))
        elif not allow_plaintext:
            with contextlib.suppress(Exception):
                connection.shutdown()
            raise MailboxError("tls", f"Le serveur IMAP {where} ne propose pas STARTTLS : le mot de passe n'a pas "
                                      "été envoyé en clair. Utilisez imaps://, ou autorisez explicitement IMAP sans "
                                      "chiffrement (BOUNCE_IMAP_ALLOW_PLAINTEXT=1) sur un réseau de confiance.")
        return connection
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError("tls", f"Le certificat du serveur IMAP {where} n'a pas pu être vérifié "
                                  f"({exc.verify_message or exc.reason}) ; rien n'a été envoyé. Pour une autorité "
                                  "de certification privée, donnez son certificat dans BOUNCE_IMAP_CA_FILE.") from None
    except TimeoutError:
        raise MailboxError("timeout", f"Le serveur IMAP {where} n'a pas répondu en {timeout:.0f} s.") from None
    except ssl.SSLError as exc:
        raise MailboxError("tls", f"La connexion chiffrée au serveur IMAP {where} a échoué ({exc.reason}).") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError("network", f"Le serveur IMAP {where} est injoignable ({exc}).") from None


def ingest_imap(db: Session, host: str, port: int, user: str, password: str, folder: str = "INBOX",
                ssl: bool = True, delete: bool = False, *, timeout: float = 30.0, ca_file: Path | None = None,
                allow_plaintext: bool = False) -> int:
    """Process the unseen messages of an IMAP folder, marking each \\Seen (or deleting it) once
    recorded; a quarantined one is marked \\Seen and kept. Returns messages processed. Raises
    MailboxError when the mailbox cannot be read."""
    connection = connect_imap(host, port, ssl, timeout=timeout, ca_file=ca_file, allow_plaintext=allow_plaintext)
    count = 0
    where = f"{host}:{port}"
    try:
        try:
            connection.login(user, password)
        except imaplib.IMAP4.error:
            raise MailboxError("login", f"Le serveur IMAP {where} refuse l'identifiant « {user} » ou son mot de "
                                        "passe : les retours ne sont plus relevés. Corrigez BOUNCE_IMAP_URL.") from None
        typ, _ = connection.select(f'"{folder}"' if " " in folder else folder)
        if typ != "OK":
            raise MailboxError("folder", f"Le dossier « {folder} » n'existe pas sur le serveur IMAP {where} : les "
                                         "retours ne sont plus relevés. Corrigez le dossier de BOUNCE_IMAP_URL.")
        _, data = _uid(connection, "SEARCH", None, "UNSEEN")
        for uid in (data[0] or b"").split():
            # Only the head of a message is ever read (mailing.dsn.bounded): fetch no more.
            _, fetched = _uid(connection, "FETCH", uid, f"(BODY.PEEK[]<0.{MAX_PARSE_BYTES}>)")
            raw = next((item[1] for item in fetched or [] if isinstance(item, tuple)), None)
            if raw is None:
                continue
            outcome = read_message(db, raw, "imap")
            if outcome == "failed":
                continue
            if outcome == "recorded":
                count += 1
            quarantined = outcome == "quarantined"
            _uid(connection, "STORE", uid, "+FLAGS", "(\\Deleted)" if delete and not quarantined else "(\\Seen)")
        if delete:
            connection.expunge()
    except TimeoutError:
        raise MailboxError("timeout",
                           f"Le serveur IMAP {where} a cessé de répondre (plus de {timeout:.0f} s).") from None
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise MailboxError("network", f"La connexion au serveur IMAP {where} a été coupée ({exc}).") from None
    except imaplib.IMAP4.error as exc:
        raise MailboxError("protocol", f"Le serveur IMAP {where} a refusé une commande ({exc}).") from None
    finally:
        with contextlib.suppress(Exception):  # the messages are handled: a failed goodbye changes nothing
            connection.logout()
    return count


def ingest_imap_url(db: Session, url: str) -> int:
    config = parse_imap_url(url)
    settings = get_settings()
    return ingest_imap(db, config.host, config.port, config.user, config.password, config.folder, config.ssl,
                       timeout=settings.bounce_imap_timeout, ca_file=settings.bounce_imap_ca_file,
                       allow_plaintext=settings.bounce_imap_allow_plaintext)


# --- Mailbox problems, told to the editors once -------------------------------------------------

def report_mailbox_problem(db: Session, source: str, error: MailboxError) -> bool:
    """Record that a bounce mailbox cannot be read; the editors are e-mailed the first time (and
    when the problem changes), not at every poll. Returns whether they were told now."""
    known = db.get(MailboxProblem, source)
    if known is not None and known.problem == error.problem:
        known.detail = error.detail
        return False
    if known is None:
        known = MailboxProblem(source=source, problem=error.problem, detail=error.detail, since=utcnow())
        db.add(known)
    else:
        known.problem, known.detail, known.since = error.problem, error.detail, utcnow()
    editors = db.scalars(select(User).where(User.role.in_([Role.editor, Role.admin]), User.active)
                         .order_by(User.id)).all()
    for editor in editors:
        queue_email(db, "bounce_mailbox_failing", editor.email, {
            "source": source, "detail": error.detail, "url": urls.absolute("/redaction/abonnes/supprimes")})
    log.warning("bounce mailbox %s cannot be read (%s): editors told", source, error.problem)
    return True


def clear_mailbox_problem(db: Session, source: str) -> None:
    """The mailbox was read again: the next problem will be told again."""
    db.execute(delete(MailboxProblem).where(MailboxProblem.source == source))


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
    return BounceReport(kind, {address} if address else set(), delivery_id, status, diagnostic, "webhook")


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


def mailbox_problems(db: Session) -> list[MailboxProblem]:
    return list(db.scalars(select(MailboxProblem).order_by(MailboxProblem.since)))


def quarantined_messages(db: Session, limit: int = 50) -> list[BounceMessage]:
    return list(db.scalars(select(BounceMessage).where(BounceMessage.quarantined_at.is_not(None))
                           .order_by(BounceMessage.quarantined_at.desc()).limit(limit)))


def ignored_bounces(db: Session, limit: int = 50) -> list[Bounce]:
    """The latest reports that changed nobody although they said a delivery failed."""
    return list(db.scalars(select(Bounce).where(Bounce.ignored_reason.is_not(None))
                           .order_by(Bounce.received_at.desc(), Bounce.id.desc()).limit(limit)))
