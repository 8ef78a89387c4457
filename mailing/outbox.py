"""The outbox: single transactional e-mails (confirmations, login links, notices, test sends),
kept in the database until sent, so they are as durable as the mail-out."""
from __future__ import annotations

import json
import logging
import smtplib
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import jobs, site_settings
from core.db import utcnow
from core.settings import get_settings
from mailing.mime import Attachment, build_message, new_message_id
from mailing.models import OutboundEmail, OutboundStatus
from mailing.sender import RateLimited, RelayPool
from mailing.templates import RenderedEmail, render_email

log = logging.getLogger(__name__)

OUTBOX_MAX_ATTEMPTS = 5
# An e-mail still queued this long after it was written has lost its message to the worker.
STALE_AFTER = timedelta(minutes=10)


def outbound_extras(outbound: OutboundEmail) -> tuple[dict[str, str], list[Attachment]]:
    """The extra headers and the attachments kept with an outbox e-mail."""
    headers = json.loads(outbound.extra_headers) if outbound.extra_headers else {}
    return headers, [Attachment.from_json(a) for a in outbound.attachments or ()]


def queue_email(db: Session, name: str, to: str, context: dict, *,
                headers: dict[str, str] | None = None, subject_prefix: str = "",
                attachments: list[Attachment] | None = None) -> OutboundEmail:
    """Render the e-mail now and keep it in the outbox; a worker sends it after COMMIT."""
    rendered = render_email(name, context, db)
    return queue_rendered(db, name, to, rendered, headers=headers, subject_prefix=subject_prefix,
                          attachments=attachments)


def queue_rendered(db: Session, name: str, to: str, rendered: RenderedEmail, *,
                   headers: dict[str, str] | None = None, subject_prefix: str = "",
                   attachments: list[Attachment] | None = None) -> OutboundEmail:
    outbound = OutboundEmail(
        template=name, to_addr=to, subject=subject_prefix + rendered.subject,
        text_body=rendered.text, html_body=rendered.html,
        extra_headers=json.dumps(headers) if headers else None,
        attachments=[a.to_json() for a in attachments] if attachments else None)
    db.add(outbound)
    db.flush()
    jobs.enqueue(db, "tasks.mail.send_outbound", outbound.id)
    return outbound


def send_outbound(db: Session, outbound_id: int, pool: RelayPool | None = None) -> OutboundStatus:
    """Send one outbox e-mail and record the outcome (the caller commits). Temporary failures are
    committed, then raise, so that the task retries; a permanent refusal is recorded as failed
    and not retried."""
    outbound = db.get(OutboundEmail, outbound_id, with_for_update=not get_settings().is_sqlite)
    if outbound is None or outbound.status is not OutboundStatus.queued:
        return outbound.status if outbound else OutboundStatus.failed
    outbound.message_id = outbound.message_id or new_message_id(f"o{outbound.id}")
    headers, attachments = outbound_extras(outbound)
    outbound.attempts += 1
    if not outbound.to_addr.isascii():
        # No SMTP transaction is even opened: sending again would change nothing.
        outbound.last_error = "adresse non ASCII : il faudrait SMTPUTF8, que l'envoi n'utilise pas"
        outbound.status = OutboundStatus.failed
        return outbound.status
    own_pool = pool is None
    pool = pool or RelayPool()
    try:
        message = build_message(
            to=outbound.to_addr, subject=outbound.subject, text=outbound.text_body,
            html=outbound.html_body, message_id=outbound.message_id,
            headers=headers or None, attachments=attachments)
        # The same path as the letter: relays, fallback, throttle, DKIM.
        pool.send_one(site_settings.current().mail_from_address, outbound.to_addr, message)
    except (UnicodeError, smtplib.SMTPNotSupportedError) as exc:
        # An address (or a header) the relay cannot take without SMTPUTF8: sending again changes
        # nothing, so the row ends failed now instead of being retried for ever.
        outbound.last_error = (f"adresse non ASCII, le relais ne propose pas SMTPUTF8 "
                               f"({type(exc).__name__}: {exc})")[:1000]
        outbound.status = OutboundStatus.failed
        log.warning("outbound %s to %r cannot be encoded: %s", outbound.id, outbound.to_addr, exc)
        return outbound.status
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _outbound_refused(db, outbound, code, reply)
    except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
        return _outbound_refused(db, outbound, exc.smtp_code, exc.smtp_error)
    except (RateLimited, smtplib.SMTPException, OSError) as exc:
        outbound.last_error = f"{type(exc).__name__}: {exc}"
        if outbound.attempts >= OUTBOX_MAX_ATTEMPTS:
            outbound.status = OutboundStatus.failed
            return outbound.status
        db.commit()  # the attempt is counted before raising: the task rolls back, then retries
        raise
    finally:
        if own_pool:
            pool.close()
    outbound.status = OutboundStatus.sent
    outbound.sent_at = utcnow()
    outbound.last_error = None
    return outbound.status


def _outbound_refused(db: Session, outbound: OutboundEmail, code: int, reply: bytes | str) -> OutboundStatus:
    reply_text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    outbound.last_error = f"{code} {reply_text}"
    if 400 <= code < 500 and outbound.attempts < OUTBOX_MAX_ATTEMPTS:
        db.commit()  # the attempt is counted before raising: the task rolls back, then retries
        raise TemporarySMTPError(code, reply_text)
    outbound.status = OutboundStatus.failed
    log.warning("outbound %s to %s refused: %s %s", outbound.id, outbound.to_addr, code, reply_text)
    return outbound.status


def wake_stale(db: Session) -> int:
    """Ask a worker again for every e-mail whose trigger was lost (a flushed broker, a crash);
    the jobs leave after COMMIT. Returns how many."""
    stale = list(db.scalars(select(OutboundEmail.id).where(
        OutboundEmail.status == OutboundStatus.queued, OutboundEmail.created_at < utcnow() - STALE_AFTER)))
    for outbound_id in stale:
        jobs.enqueue(db, "tasks.mail.send_outbound", outbound_id)
    return len(stale)


class TemporarySMTPError(Exception):
    def __init__(self, code: int, reply: str):
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply
