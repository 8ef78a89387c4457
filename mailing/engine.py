"""The mail-out engine's ledger and wire: claim a batch of deliveries, send each over a reused
SMTP connection through the relays and their throttle, record every outcome in bulk.

The database is the truth: one `Delivery` row per recipient, unique per (issue, subscriber); workers
claim batches of queued rows (PostgreSQL `FOR UPDATE SKIP LOCKED`), send them, record them. The
engine knows an issue only by its id and its compiled parts, and its recipients by the columns the
layer above hands it (`RecipientColumns`): it never imports the letter, events or subscribers.
What to send, to whom and when to stop is newsletter.mailout's business.
"""
from __future__ import annotations

import html
import logging
import re
import secrets
import smtplib
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import site_settings, urls
from core.db import affected_rows, utcnow
from core.settings import get_settings
from mailing.mime import LetterMIME, format_recipient
from mailing.models import Delivery, DeliveryStatus
from mailing.sender import RelayPool
from mailing.templates import RenderedEmail
from mailing.throttle import ThrottleUnavailable, choose_relay
from mailing.verp import verp_address

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
NON_ASCII_ADDRESS = "adresse non ASCII : il faudrait SMTPUTF8, que l'envoi n'utilise pas"
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5))  # below any broker visibility timeout

# --- Personal slots -----------------------------------------------------------------------------

SLOT_RE = re.compile(r"%%(\w+)%%")
_marker_nonce: ContextVar[str | None] = ContextVar("slot_marker_nonce", default=None)


def slot(name: str) -> str:
    """A personalisation slot, for a template's context inside `render_with_slots`: a marker that
    holds a random word drawn for this render, which no text written before it can guess."""
    nonce = _marker_nonce.get()
    if nonce is None:
        raise RuntimeError("slot() is only for a render inside render_with_slots()")
    return f"slot{nonce}{name}{nonce}slot"


def render_with_slots(render: Callable[[], RenderedEmail]) -> RenderedEmail:
    """Run `render` (which places `slot(name)` in its templates), then make those markers the
    letter's slots, and only those: every `%%` already in the result (a partner's, a feed's or an
    editor's text) is written so that it reads the same but opens no slot (`%&#37;` in the HTML,
    a zero-width space between the two signs in the text)."""
    if _marker_nonce.get() is not None:
        return render()  # inside another: the outer one seals
    nonce = secrets.token_hex(12)
    token = _marker_nonce.set(nonce)
    try:
        rendered = render()
    finally:
        _marker_nonce.reset(token)
    marker = re.compile(f"slot{nonce}(\\w+?){nonce}slot")

    def seal(source: str, percent: str) -> str:
        return marker.sub(lambda m: f"%%{m.group(1)}%%", re.sub("%(?=%)", percent, source))

    return RenderedEmail(rendered.subject, seal(rendered.html, "&#37;"), seal(rendered.text, "%\u200b"))


class CompiledLetter:
    """An issue's subject, HTML and text as strings with their slots filled (HTML-escaped in the
    HTML). The mail-out itself fills slots at the MIME level (mailing.mime.LetterMIME)."""

    def __init__(self, subject: str, html_source: str, text_source: str):
        self.subject = subject
        self._html = SLOT_RE.split(html_source)
        self._text = SLOT_RE.split(text_source)

    @staticmethod
    def _fill(parts: list[str], values: dict[str, str]) -> str:
        # re.split with one group alternates literal, slot name, literal, ...
        return "".join(part if i % 2 == 0 else values[part] for i, part in enumerate(parts))

    def render(self, values: dict[str, str]) -> tuple[str, str]:
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        return self._fill(self._html, escaped), self._fill(self._text, values)


def greeting(name: str) -> str:
    return f"Bonjour {name}," if name else "Bonjour,"


def archive_slot_values() -> dict[str, str]:
    return {"greeting": greeting(""), "unsubscribe_url": urls.absolute("/desabonnement/"),
            "preferences_url": urls.absolute("/preferences/"), "confirm_url": urls.absolute("/abonnement/")}


def slot_values(name: str, unsubscribe_token: str) -> dict[str, str]:
    """One recipient's values for the slots of a compiled letter or invitation."""
    return {"greeting": greeting(name),
            "unsubscribe_url": urls.absolute(urls.unsubscribe_path(unsubscribe_token)),
            "preferences_url": urls.absolute(urls.preferences_path(unsubscribe_token)),
            "confirm_url": urls.absolute(urls.import_confirm_path(unsubscribe_token))}


def neutral_letter(rendered: RenderedEmail) -> RenderedEmail:
    """The letter with neutral slots (no name, the generic unsubscribe page): for previews, test
    sends and the archive."""
    html_body, text_body = CompiledLetter(rendered.subject, rendered.html, rendered.text).render(
        archive_slot_values())
    return RenderedEmail(rendered.subject, html_body, text_body)



def letter_headers(unsubscribe_url: str) -> dict[str, str]:
    return {**static_letter_headers(), **unsubscribe_headers(unsubscribe_url)}


def test_send_headers() -> dict[str, str]:
    """A test send's headers: no List-Unsubscribe, since there is no subscription to end (the
    generic page takes no one-click POST). A working one-click link or none."""
    return static_letter_headers()


def static_letter_headers() -> dict[str, str]:
    """List-Id and Reply-To are the site's settings (the back office's, else the environment's)."""
    site = site_settings.current()
    headers = {"List-Id": site.list_id, "Precedence": "bulk", "Auto-Submitted": "auto-generated"}
    if site.reply_to:
        headers["Reply-To"] = site.reply_to
    return headers


def _https(url: str) -> bool:
    return url.lower().startswith("https://")


def unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscription. An https site never offers an http link (refused and
    logged: the header is left out); a site without https gets its links and a warning at start
    (`settings_warnings`)."""
    if _https(get_settings().base_url) and not _https(unsubscribe_url):
        log.warning("List-Unsubscribe left out: an http link while BASE_URL is https")  # not the URL: a token
        return {}
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def settings_warnings(settings) -> list[str]:
    """What a process says at start about settings that work but will hurt delivery."""
    if _https(settings.base_url):
        return []
    return [f"BASE_URL ({settings.base_url}) n'est pas en https : les grandes messageries refusent le "
            "désabonnement en un clic (List-Unsubscribe, RFC 8058) d'un lien http. En production, servez le site en "
            "https. / BASE_URL is not https: one-click List-Unsubscribe links over http are refused by large "
            "mailbox providers."]


def letter_mime(subject: str, html_body: str, text_body: str) -> LetterMIME:
    """A compiled letter, MIME-encoded once; each recipient's copy fills a few lines."""
    return LetterMIME(sender=site_settings.current().mail_from, subject=subject, text=text_body, html=html_body,
                      static_headers=static_letter_headers())


# --- The ledger ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecipientColumns:
    """Where the ledger finds a recipient: the columns of the subscribers' table, handed down by the
    layer that owns it (the ledger joins on them, it does not import them)."""
    id: Any
    email: Any
    name: Any
    unsubscribe_token: Any


# Declarative maps Delivery to a Table, but types __table__ as any FromClause.
DELIVERIES = cast(Table, Delivery.__table__)


def _insert(db: Session):
    return (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(DELIVERIES)


def plan(db: Session, issue_id: int, recipient_ids) -> int:
    """One queued Delivery per recipient id selected by `recipient_ids` (a one-column SELECT), in
    one INSERT … SELECT. Planning twice adds nobody twice (unique on issue and subscriber).
    Returns the number of rows added."""
    rows = recipient_ids.with_only_columns(
        literal(issue_id), *recipient_ids.selected_columns, literal(DeliveryStatus.queued.value), literal(0))
    stmt = _insert(db).from_select(["issue_id", "subscriber_id", "status", "attempts"], rows)
    result = db.execute(stmt.on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"]),
                        execution_options={"preserve_rowcount": True})
    return affected_rows(result) or 0


@dataclass
class Claimed:
    delivery_id: int
    attempts: int
    email: str
    name: str
    unsubscribe_token: str


def _claimable(issue_id: int, now: datetime):
    return and_(Delivery.issue_id == issue_id, Delivery.status == DeliveryStatus.queued,
                or_(Delivery.not_before.is_(None), Delivery.not_before <= now))


def count_claimable(db: Session, issue_id: int) -> int:
    return db.scalar(select(func.count()).where(_claimable(issue_id, utcnow()))) or 0


def claim_batch(db: Session, issue_id: int, size: int,
                recipients: RecipientColumns) -> tuple[str, list[Claimed]]:
    """Claim up to `size` queued deliveries for this worker, atomically. On PostgreSQL, SKIP
    LOCKED lets concurrent workers take disjoint batches without waiting on each other; SQLite
    serialises writers, so the single UPDATE is atomic there too."""
    token = secrets.token_hex(16)
    now = utcnow()
    ids = select(Delivery.id).where(_claimable(issue_id, now)).order_by(Delivery.id).limit(size)
    if db.get_bind().dialect.name == "postgresql":
        ids = ids.with_for_update(skip_locked=True)
    db.execute(update(Delivery).where(Delivery.id.in_(ids.scalar_subquery()))
               .values(status=DeliveryStatus.claimed, claim_token=token, claimed_at=now)
               .execution_options(synchronize_session=False))
    rows = db.execute(
        select(Delivery.id, Delivery.attempts, recipients.email, recipients.name, recipients.unsubscribe_token)
        .join_from(Delivery, recipients.email.table, recipients.id == Delivery.subscriber_id)
        .where(Delivery.claim_token == token).order_by(Delivery.id)).all()
    db.commit()  # a claim is its own short transaction: other workers must see it at once
    return token, [Claimed(*row) for row in rows]


@dataclass
class Outcome:
    delivery_id: int
    status: DeliveryStatus
    code: int | None = None
    reply: str | None = None
    message_id: str | None = None
    retry_at: datetime | None = None


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _refusal(claimed: Claimed, code: int, reply: bytes | str, now: datetime) -> Outcome:
    """A 4xx is retried later with backoff (up to MAX_ATTEMPTS); a 5xx fails at once."""
    text = _reply_text(reply)
    attempt = claimed.attempts + 1
    if 400 <= code < 500 and attempt < MAX_ATTEMPTS:
        return Outcome(claimed.delivery_id, DeliveryStatus.queued, code, text,
                       retry_at=now + RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])
    return Outcome(claimed.delivery_id, DeliveryStatus.failed, code, text)


def personalised_message(letter: LetterMIME, prefix: str, claimed: Claimed) -> tuple[str, bytes]:
    """One recipient's copy: its slots filled, a Message-ID `<prefix.delivery.random@domain>`."""
    values = slot_values(claimed.name, claimed.unsubscribe_token)
    unsubscribe_url = values["unsubscribe_url"]
    message_id = f"<{prefix}.{claimed.delivery_id}.{secrets.token_hex(4)}@{get_settings().mail_domain}>"
    return message_id, letter.render(
        to=format_recipient(claimed.name, claimed.email), message_id=message_id,
        personal_headers=unsubscribe_headers(unsubscribe_url), text_values=values,
        html_values={key: html.escape(value, quote=True) for key, value in values.items()})


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    connection_lost: str | None = None  # the batch stopped: no relay could be reached
    wake_in: float | None = None        # the batch stopped at a relay's rate limit: wake after this


def _give_back(rest: list[Claimed], reason: str | None, retry_at: datetime | None = None) -> list[Outcome]:
    return [Outcome(c.delivery_id, DeliveryStatus.queued, None, reason, retry_at=retry_at) for c in rest]


def send_claimed(letter: LetterMIME, prefix: str, claimed: list[Claimed], pool: RelayPool,
                 keepalive: Callable[[], None] | None = None) -> BatchResult:
    """Send every claimed delivery. One recipient's refusal never stops the batch; a dropped
    connection is reopened and the same message tried again once. A rate limit never sleeps more
    than a fraction of a second: what must wait goes back to the queue with the time it may leave."""
    result = BatchResult([])
    outcomes = result.outcomes
    max_failures = get_settings().mailout_max_consecutive_failures
    # A live worker refreshes its claims well within the stale window, so the sweeper only ever
    # gives back the claims of a dead one (a slow batch must not be sent twice).
    keepalive_every = max(get_settings().mailout_stale_after / 3, 1.0)
    last_keepalive = time.monotonic()
    for index, item in enumerate(claimed):
        if keepalive and time.monotonic() - last_keepalive > keepalive_every:
            keepalive()
            last_keepalive = time.monotonic()
        streak = failure_streak(outcomes)
        if max_failures and streak >= max_failures:
            # Give the rest back untouched; run_batch pauses the mail-out and tells the editors.
            outcomes.extend(_give_back(claimed[index:], None))
            return result
        try:
            choice = choose_relay(pool.relays, pool.throttle, item.email)
            paused = 0.0
            while choice.relay is None and choice.wait <= pool.throttle.max_pause and paused < 2.0:
                time.sleep(choice.wait)  # sub-second waits only
                paused += choice.wait
                choice = choose_relay(pool.relays, pool.throttle, item.email)
        except ThrottleUnavailable as exc:
            outcomes.extend(_give_back(claimed[index:], f"limites d'envoi indisponibles : {exc}",
                                       utcnow() + RETRY_DELAYS[0]))
            result.wake_in = RETRY_DELAYS[0].total_seconds()
            return result
        if choice.relay is None:
            now = utcnow()
            if choice.relay_wait > 0:  # every relay is at its limit: the rest of the batch waits too
                outcomes.extend(_give_back([item], "limite d'envoi du relais", now + timedelta(seconds=choice.wait)))
                outcomes.extend(_give_back(claimed[index + 1:], "limite d'envoi du relais",
                                           now + timedelta(seconds=choice.relay_wait)))
                result.wake_in = choice.relay_wait
                return result
            outcomes.extend(_give_back([item], "limite du domaine", now + timedelta(seconds=choice.wait)))
            continue  # only this provider is at its cap: the next recipient may go
        if not item.email.isascii():
            # Needs SMTPUTF8, which we do not use: sending again would change nothing.
            outcomes.append(Outcome(item.delivery_id, DeliveryStatus.failed, None, NON_ASCII_ADDRESS))
            continue
        connection = pool.connection(choice.relay)
        message_id, message = personalised_message(letter, prefix, item)
        for attempt in (1, 2):
            try:
                # VERP: the return path names the delivery, so a bounce maps to one subscriber.
                connection.send(verp_address(item.delivery_id), item.email, message)
                outcomes.append(Outcome(item.delivery_id, DeliveryStatus.sent, 250, None, message_id))
                break
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                outcomes.append(_refusal(item, code, reply, utcnow()))
                break
            except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                outcomes.append(_refusal(item, exc.smtp_code, exc.smtp_error, utcnow()))
                break
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
                log.warning("SMTP connection to %s lost (%s); reconnecting", choice.relay.label, exc)
                try:
                    if attempt == 2:
                        raise
                    connection.reconnect()
                except (smtplib.SMTPException, OSError) as lost:
                    # Give the rest back untouched: another batch will take them.
                    result.connection_lost = f"{choice.relay.label} : {lost}"
                    outcomes.extend(_give_back(claimed[index:], f"connexion perdue : {lost}"))
                    return result
    return result


def failure_streak(outcomes: list[Outcome]) -> int:
    """Refusals in a row at the end of `outcomes` (a 4xx put back in the queue counts too)."""
    streak = 0
    for outcome in reversed(outcomes):
        if outcome.status is DeliveryStatus.queued and outcome.code is None:
            continue  # given back untouched (end of a stopped batch): neither success nor refusal
        if outcome.status is DeliveryStatus.sent:
            break
        streak += 1
    return streak


def record(db: Session, token: str, outcomes: list[Outcome]) -> None:
    """Record a batch's outcomes in one executemany, only for rows this worker still holds."""
    if not outcomes:
        return
    now = utcnow()
    table = DELIVERIES
    stmt = (update(table)
            .where(table.c.id == bindparam("b_id"), table.c.claim_token == token)
            .values(status=bindparam("b_status"), smtp_code=bindparam("b_code"),
                    smtp_reply=bindparam("b_reply"), message_id=bindparam("b_message_id"),
                    sent_at=bindparam("b_sent_at"), not_before=bindparam("b_not_before"),
                    attempts=table.c.attempts + bindparam("b_attempt"),
                    claim_token=None, claimed_at=None))
    db.execute(stmt, [{
        "b_id": o.delivery_id, "b_status": o.status.value, "b_code": o.code, "b_reply": o.reply,
        "b_message_id": o.message_id, "b_sent_at": now if o.status is DeliveryStatus.sent else None,
        "b_not_before": o.retry_at, "b_attempt": 0 if (o.status is DeliveryStatus.queued and o.code is None) else 1,
    } for o in outcomes])
    db.commit()  # outcomes are durable before the next batch is woken: a crash re-sends none of them


class RelayUnreachable(OSError):
    """No SMTP relay answered; the batch was given back untouched."""



def earliest_retry(db: Session, issue_id: int) -> datetime | None:
    """When the first delivery that waits for its time (a 4xx retry, a rate limit) may leave."""
    return db.scalar(select(func.min(Delivery.not_before)).where(
        Delivery.issue_id == issue_id, Delivery.status == DeliveryStatus.queued))


def remaining(db: Session, issue_id: int) -> int:
    """Deliveries not yet sent nor failed (queued or claimed)."""
    return db.scalar(select(func.count()).where(
        Delivery.issue_id == issue_id,
        Delivery.status.in_([DeliveryStatus.queued, DeliveryStatus.claimed]))) or 0


def release_stale(db: Session, before: datetime) -> int:
    """Give back the claims of a dead worker (a live one refreshes its claims well within)."""
    return affected_rows(db.execute(
        update(Delivery).where(Delivery.status == DeliveryStatus.claimed, Delivery.claimed_at < before)
        .values(status=DeliveryStatus.queued, claim_token=None, claimed_at=None)
        .execution_options(synchronize_session=False))) or 0


def cancel_queued(db: Session, issue_id: int) -> int:
    """Cancel what was not sent yet (a batch on the wire finishes). Returns how many."""
    return affected_rows(db.execute(update(Delivery).where(Delivery.issue_id == issue_id,
                                                           Delivery.status == DeliveryStatus.queued)
                                    .values(status=DeliveryStatus.cancelled)
                                    .execution_options(synchronize_session=False))) or 0


def status_counts(db: Session, issue_id: int) -> dict[str, int]:
    """Deliveries of an issue per status value, every status present (0 when none)."""
    counts = dict(db.execute(select(Delivery.status, func.count()).where(Delivery.issue_id == issue_id)
                             .group_by(Delivery.status)).all())
    return {s.value: counts.get(s, 0) for s in DeliveryStatus}  # a str enum: s finds the key s.value too


def failed_deliveries(db: Session, issue_id: int, recipients: RecipientColumns,
                      limit: int = 100) -> list[tuple[Delivery, str]]:
    rows = db.execute(select(Delivery, recipients.email).join_from(Delivery, recipients.email.table,
                                                                   recipients.id == Delivery.subscriber_id)
                      .where(Delivery.issue_id == issue_id, Delivery.status == DeliveryStatus.failed)
                      .order_by(Delivery.id).limit(limit)).all()
    return [(d, email) for d, email in rows]
