"""The mail-out engine: compile once, plan, send in claimed batches, recover, finish.

One module owns the send of an issue (listmonk's habit). The database is the truth: a `Delivery`
row per recipient, unique per (issue, subscriber); workers claim batches of queued rows, send them
over one reused SMTP connection, and record every outcome. The broker only wakes workers up: a
sweeper run by beat resets stale claims and wakes workers again, so a killed worker or a flushed
Redis loses no recipient.
"""
from __future__ import annotations

import html
import logging
import os
import re
import secrets
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contributions.services import mark_published
from newsletter import jobs, urls
from newsletter.db import utcnow
from newsletter.mail import (
    RenderedEmail, SMTPConnection, compile_mjml, email_environment, queue_email, queue_rendered,
)
from newsletter.mime import LetterMIME, format_recipient
from newsletter.throttle import Relay, Throttle, ThrottleUnavailable, choose_relay, parse_relays
from newsletter.models import Delivery, DeliveryStatus, Issue, IssueStatus, OutboundEmail, Role, User
from newsletter.settings import get_settings
from subscribers.bounces import verp_address
from subscribers.models import Subscriber, SubscriberStatus

log = logging.getLogger(__name__)

SEND_BATCH_TASK = "tasks.mailout.send_batch"
START_TASK = "tasks.mailout.start_mailout"
MAX_ATTEMPTS = 3
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5))  # below any broker visibility timeout

# --- Compile once -------------------------------------------------------------------------------

SLOT_RE = re.compile(r"%%(\w+)%%")


def slot(name: str) -> str:
    """A personalisation slot left in the compiled letter, filled per recipient."""
    return f"%%{name}%%"


class CompiledLetter:
    """An issue's subject, HTML and text as strings with their slots filled (HTML-escaped in the
    HTML). The mail-out itself fills slots at the MIME level (newsletter.mime.LetterMIME)."""

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


def render_letter(issue: Issue) -> RenderedEmail:
    """Render an issue through its MJML and text templates, slots left in place. An invitation
    (issue.kind == "invitation") has its own template, with the same slots."""
    if getattr(issue, "kind", None) == "invitation":
        from newsletter.invitations import render_invitation
        return render_invitation(issue)
    env = email_environment()
    ctx = {
        "settings": get_settings(), "issue": issue, "sections": issue.items_by_rubrique(),
        "web_url": urls.absolute(urls.letter_path(issue.numero)),
        "subscribe_url": urls.absolute("/abonnement"),
        "unsubscribe_url": slot("unsubscribe_url"), "greeting": slot("greeting"),
        "preferences_url": slot("preferences_url"),
    }
    subject = " ".join(env.get_template("letter/subject.txt").render(ctx).split())
    html_out = compile_mjml(env.get_template("letter/body.mjml").render(ctx), "letter/body.mjml")
    text_out = env.get_template("letter/body.txt").render(ctx)
    return RenderedEmail(subject=subject, html=html_out, text=text_out)


def render_web_version(issue: Issue) -> str:
    """The letter as an accessible web page fragment, frozen into the archive."""
    return email_environment().get_template("letter/web.html").render(
        issue=issue, sections=issue.items_by_rubrique(), settings=get_settings())


def greeting(name: str) -> str:
    return f"Bonjour {name}," if name else "Bonjour,"


def archive_slot_values() -> dict[str, str]:
    return {"greeting": greeting(""), "unsubscribe_url": urls.absolute("/desabonnement/"),
            "preferences_url": urls.absolute("/preferences/")}


def slot_values(name: str, unsubscribe_token: str) -> dict[str, str]:
    """One recipient's values for the slots of a compiled letter or invitation."""
    return {"greeting": greeting(name),
            "unsubscribe_url": urls.absolute(urls.unsubscribe_path(unsubscribe_token)),
            "preferences_url": urls.absolute(urls.preferences_path(unsubscribe_token))}


def neutral_letter(rendered: RenderedEmail) -> RenderedEmail:
    """The letter with neutral slots (no name, the generic unsubscribe page): for previews, test
    sends and the archive."""
    html_body, text_body = CompiledLetter(rendered.subject, rendered.html, rendered.text).render(
        archive_slot_values())
    return RenderedEmail(rendered.subject, html_body, text_body)


def compile_issue(db: Session, issue: Issue) -> None:
    """Compile the letter once and freeze its archive copy (templates may change later)."""
    rendered = render_letter(issue)
    issue.subject = rendered.subject
    issue.compiled_html = rendered.html
    issue.compiled_text = rendered.text
    issue.compiled_at = utcnow()
    issue.archive_email_html = neutral_letter(rendered).html  # also the editor's preview
    if issue.kind != "invitation":  # an invitation is never archived
        issue.archive_html = render_web_version(issue)
        issue.archive_summary = _summary(issue)


def _summary(issue: Issue) -> str:
    titles = [item.contribution.title for item in issue.items]
    return " · ".join(titles[:8])


# --- Plan ---------------------------------------------------------------------------------------

def _insert(db: Session):
    return (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(Delivery.__table__)


def plan(db: Session, issue: Issue) -> int:
    """One queued Delivery per active subscriber (of the issue's segment, for an invitation), in
    one INSERT … SELECT. Planning twice adds nobody twice (unique on issue and subscriber).
    Returns the number of rows added."""
    eligible = select(
        literal(issue.id), Subscriber.id, literal(DeliveryStatus.queued.value), literal(0),
    ).where(Subscriber.status == SubscriberStatus.active)
    if issue.kind == "invitation":
        from newsletter.invitations import recipients_condition
        eligible = eligible.where(recipients_condition(issue))
    stmt = _insert(db).from_select(["issue_id", "subscriber_id", "status", "attempts"], eligible)
    result = db.execute(stmt.on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"]),
                        execution_options={"preserve_rowcount": True})
    return result.rowcount or 0


# --- Start, schedule ----------------------------------------------------------------------------

class MailoutError(ValueError):
    """An editor asked for something the issue's state does not allow; the message says why."""


def request_send(db: Session, issue: Issue, when: datetime | None = None) -> None:
    """Schedule the issue for `when` (now if None). Beat starts due issues; sending now also
    wakes a worker at once."""
    if issue.status not in (IssueStatus.draft, IssueStatus.scheduled):
        raise MailoutError("Ce numéro a déjà été envoyé ou est en cours d'envoi.")
    if issue.kind != "invitation" and not issue.items:
        raise MailoutError("Ce numéro ne contient aucun article.")
    if issue.kind == "invitation" and issue.event_id is None:
        raise MailoutError("Cette invitation n'est liée à aucun événement.")
    now = utcnow()
    issue.status = IssueStatus.scheduled
    issue.scheduled_at = when or now
    if issue.scheduled_at <= now:
        jobs.enqueue(db, START_TASK, issue.id)


def unschedule(db: Session, issue: Issue) -> None:
    if issue.status is not IssueStatus.scheduled:
        raise MailoutError("Ce numéro n'est pas programmé.")
    issue.status = IssueStatus.draft
    issue.scheduled_at = None


def start(db: Session, issue_id: int) -> int:
    """Move a due issue to sending: compile once, plan, wake the workers. Idempotent: a second
    call (a retried task, beat catching up) plans nobody twice. Returns deliveries queued."""
    bind_is_pg = db.get_bind().dialect.name == "postgresql"
    issue = db.get(Issue, issue_id, with_for_update=bind_is_pg)
    if issue is None:
        return 0
    if issue.status is IssueStatus.scheduled and issue.scheduled_at and issue.scheduled_at <= utcnow():
        issue.status = IssueStatus.sending
        issue.send_started_at = utcnow()
    if issue.status is not IssueStatus.sending:
        db.rollback()
        return 0
    if issue.compiled_html is None:
        try:
            compile_issue(db, issue)
        except Exception as exc:  # noqa: BLE001  a template or MJML error: back to draft, say why
            db.rollback()
            issue = db.get(Issue, issue_id)
            issue.status, issue.scheduled_at, issue.send_started_at = IssueStatus.draft, None, None
            issue.send_error = f"{type(exc).__name__} : {exc}"
            db.commit()
            log.exception("issue %s could not be compiled", issue_id)
            return 0
    issue.send_error = None
    plan(db, issue)
    issue.mailout_heartbeat_at = utcnow()
    queued = count_claimable(db, issue.id)
    for _ in range(min(get_settings().mailout_parallelism, max(1, -(-queued // get_settings().mailout_batch_size)))):
        jobs.enqueue(db, SEND_BATCH_TASK, issue.id)
    db.commit()
    if queued == 0:
        finish_if_done(db, issue.id)
    return queued


def due_issue_ids(db: Session, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(db.scalars(select(Issue.id).where(
        Issue.status == IssueStatus.scheduled, Issue.scheduled_at <= now)))


# --- Send ---------------------------------------------------------------------------------------

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


def claim_batch(db: Session, issue_id: int, size: int) -> tuple[str, list[Claimed]]:
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
        select(Delivery.id, Delivery.attempts, Subscriber.email, Subscriber.name, Subscriber.unsubscribe_token)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.claim_token == token).order_by(Delivery.id)).all()
    db.commit()
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


def letter_headers(unsubscribe_url: str) -> dict[str, str]:
    return {**static_letter_headers(), "List-Unsubscribe": f"<{unsubscribe_url}>"}


def static_letter_headers() -> dict[str, str]:
    return {
        "List-Id": get_settings().list_id,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Precedence": "bulk",
        "Auto-Submitted": "auto-generated",
    }


def letter_mime(issue: Issue) -> LetterMIME:
    """The issue's letter, MIME-encoded once; each recipient's copy fills a few lines."""
    return LetterMIME(sender=get_settings().mail_from, subject=issue.subject or "",
                      text=issue.compiled_text or "", html=issue.compiled_html or "",
                      static_headers=static_letter_headers())


def personalised_message(letter: LetterMIME, issue: Issue, claimed: Claimed) -> tuple[str, bytes]:
    values = slot_values(claimed.name, claimed.unsubscribe_token)
    unsubscribe_url = values["unsubscribe_url"]
    # An invitation has no numéro: its Message-ID names the issue row instead.
    prefix = f"lettre-{issue.numero}" if issue.numero is not None else f"{issue.kind}-i{issue.id}"
    message_id = f"<{prefix}.{claimed.delivery_id}.{secrets.token_hex(4)}@{get_settings().mail_domain}>"
    return message_id, letter.render(
        to=format_recipient(claimed.name, claimed.email), message_id=message_id,
        personal_headers={"List-Unsubscribe": f"<{unsubscribe_url}>"}, text_values=values,
        html_values={key: html.escape(value, quote=True) for key, value in values.items()})


class RelayPool:
    """This batch's SMTP connections, one per relay used, opened on first use; the relays and
    the throttle (token buckets shared by every worker process) come from the settings."""

    def __init__(self):
        settings = get_settings()
        self.relays, self.throttle = relay_setup(os.environ.get("SMTP_RELAYS"), settings.smtp_url,
                                                 settings.celery_broker_url, str(settings.data_dir),
                                                 os.environ.get("DOMAIN_CAPS"), os.environ.get("THROTTLE_MAX_PAUSE"))
        self.connections: dict[str, SMTPConnection] = {}

    def connection(self, relay: Relay) -> SMTPConnection:
        if relay.url not in self.connections:
            self.connections[relay.url] = SMTPConnection(relay.url)
        return self.connections[relay.url]

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


@lru_cache(maxsize=4)
def relay_setup(relays_spec, smtp_url, broker_url, data_dir, _caps, _pause) -> tuple[list[Relay], Throttle]:
    """Parsed once per process (the arguments are the configuration it depends on)."""
    return parse_relays(relays_spec, smtp_url), Throttle.from_env(broker_url, data_dir)


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    connection_lost: str | None = None  # the batch stopped: no relay could be reached
    wake_in: float | None = None        # the batch stopped at a relay's rate limit: wake after this


def _give_back(rest: list[Claimed], reason: str, retry_at: datetime | None = None) -> list[Outcome]:
    return [Outcome(c.delivery_id, DeliveryStatus.queued, None, reason, retry_at=retry_at) for c in rest]


def send_claimed(issue: Issue, claimed: list[Claimed], pool: RelayPool,
                 keepalive: Callable[[], None] | None = None) -> BatchResult:
    """Send every claimed delivery. One recipient's refusal never stops the batch; a dropped
    connection is reopened and the same message tried again once. A rate limit never sleeps more
    than a fraction of a second: what must wait goes back to the queue with the time it may leave."""
    letter = letter_mime(issue)
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
        streak = _failure_streak(outcomes)
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
        connection = pool.connection(choice.relay)
        message_id, message = personalised_message(letter, issue, item)
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


def _failure_streak(outcomes: list[Outcome]) -> int:
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
    table = Delivery.__table__
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
    db.commit()


def run_batch(db: Session, issue_id: int) -> int:
    """Claim one batch, send it, record it, and wake the next batch (or finish the issue).
    Returns the number of deliveries handled."""
    issue = db.get(Issue, issue_id)
    if issue is None or issue.status is not IssueStatus.sending:
        return 0
    token, claimed = claim_batch(db, issue_id, get_settings().mailout_batch_size)
    if not claimed:
        if not finish_if_done(db, issue_id):
            wake_next_batch(db, issue_id)  # some wait for their time (a retry, a rate limit)
            db.commit()
        return 0
    def keepalive() -> None:
        db.execute(update(Delivery).where(Delivery.claim_token == token, Delivery.status == DeliveryStatus.claimed)
                   .values(claimed_at=utcnow()).execution_options(synchronize_session=False))
        db.commit()

    pool = RelayPool()
    try:
        result = send_claimed(issue, claimed, pool, keepalive)
    finally:
        pool.close()
    outcomes = result.outcomes
    record(db, token, outcomes)
    db.execute(update(Issue).where(Issue.id == issue_id).values(mailout_heartbeat_at=utcnow()))
    max_failures = get_settings().mailout_max_consecutive_failures
    streak = _failure_streak(outcomes)
    if max_failures and streak >= max_failures:
        db.commit()
        refusals = [o for o in outcomes if o.code is not None]
        pause_after_failures(db, issue_id, refusals[-streak:])
        return len(claimed)
    if result.connection_lost:
        db.commit()
        raise RelayUnreachable(result.connection_lost)  # the task retries later, with backoff
    wake_next_batch(db, issue_id, result.wake_in)
    db.commit()
    finish_if_done(db, issue_id)
    return len(claimed)


class RelayUnreachable(OSError):
    """No SMTP relay answered; the batch was given back untouched."""


def wake_next_batch(db: Session, issue_id: int, wake_in: float | None = None) -> None:
    """Wake a worker for the next batch: now if some deliveries may leave, else when the first
    delayed one may (a 4xx retry, a rate limit), at most a minute ahead; the sweeper covers the rest."""
    if wake_in is None and count_claimable(db, issue_id):
        jobs.enqueue(db, SEND_BATCH_TASK, issue_id)
        return
    earliest = db.scalar(select(func.min(Delivery.not_before)).where(
        Delivery.issue_id == issue_id, Delivery.status == DeliveryStatus.queued))
    if earliest is None and wake_in is None:
        return
    delay = wake_in if wake_in is not None else (earliest - utcnow()).total_seconds()
    jobs.enqueue(db, SEND_BATCH_TASK, issue_id, countdown=min(max(delay, 0.0), 60.0))


def finish_if_done(db: Session, issue_id: int) -> bool:
    """Mark the issue sent and publish it in the archive once no delivery is left to send."""
    remaining = db.scalar(select(func.count()).where(
        Delivery.issue_id == issue_id,
        Delivery.status.in_([DeliveryStatus.queued, DeliveryStatus.claimed])))
    if remaining:
        return False
    now = utcnow()
    result = db.execute(update(Issue).where(Issue.id == issue_id, Issue.status == IssueStatus.sending)
                        .values(status=IssueStatus.sent, sent_at=now,
                                published_at=case((Issue.kind != "invitation", literal(now, Issue.published_at.type)), else_=None)))
    if result.rowcount:
        issue = db.get(Issue, issue_id)
        if issue.kind != "invitation":
            mark_published(db, [item.contribution for item in issue.items],
                           f"Publiée dans la lettre n°{issue.numero}")
        log.info("issue %s sent and published", issue_id)
    db.commit()
    return bool(result.rowcount)


# --- Recover ------------------------------------------------------------------------------------

def sweep(db: Session, now: datetime | None = None) -> dict[str, int]:
    """Run by beat: start due issues, give stale claims back, wake workers for mail-outs whose
    trigger was lost (killed worker, flushed broker), finish what is done."""
    settings = get_settings()
    now = now or utcnow()
    stale_before = now - timedelta(seconds=settings.mailout_stale_after)
    released = db.execute(
        update(Delivery).where(Delivery.status == DeliveryStatus.claimed, Delivery.claimed_at < stale_before)
        .values(status=DeliveryStatus.queued, claim_token=None, claimed_at=None)
        .execution_options(synchronize_session=False)).rowcount or 0
    db.commit()
    for issue_id in due_issue_ids(db, now):
        jobs.enqueue(db, START_TASK, issue_id)
    woken = 0
    quiet_before = now - timedelta(seconds=min(60, settings.mailout_stale_after))
    for issue in db.scalars(select(Issue).where(Issue.status == IssueStatus.sending)):
        if count_claimable(db, issue.id):
            if issue.mailout_heartbeat_at is None or issue.mailout_heartbeat_at < quiet_before or released:
                issue.mailout_heartbeat_at = now
                for _ in range(settings.mailout_parallelism):
                    jobs.enqueue(db, SEND_BATCH_TASK, issue.id)
                woken += 1
    db.commit()
    for issue_id in db.scalars(select(Issue.id).where(Issue.status == IssueStatus.sending)).all():
        finish_if_done(db, issue_id)
    return {"released": released, "woken": woken}


# --- Control ------------------------------------------------------------------------------------

def pause(db: Session, issue: Issue, reason: str | None = None) -> None:
    """Stop claiming new batches; a batch already on the wire finishes. Resume picks up the rest."""
    if issue.status is not IssueStatus.sending:
        raise MailoutError("Seul un envoi en cours peut être mis en pause.")
    issue.status = IssueStatus.paused
    issue.send_error = reason
    db.commit()


def resume(db: Session, issue: Issue) -> None:
    if issue.status is not IssueStatus.paused:
        raise MailoutError("Cet envoi n'est pas en pause.")
    issue.status = IssueStatus.sending
    issue.send_error = None
    issue.mailout_heartbeat_at = utcnow()
    for _ in range(get_settings().mailout_parallelism):
        jobs.enqueue(db, SEND_BATCH_TASK, issue.id)
    db.commit()


def cancel(db: Session, issue: Issue) -> int:
    """Stop for good: deliveries not yet sent are cancelled (a batch on the wire finishes).
    The letter is not published. Returns the number of deliveries cancelled."""
    if issue.status not in (IssueStatus.scheduled, IssueStatus.sending, IssueStatus.paused):
        raise MailoutError("Cet envoi ne peut pas être annulé.")
    issue.status = IssueStatus.cancelled
    cancelled = db.execute(update(Delivery).where(Delivery.issue_id == issue.id,
                                                  Delivery.status == DeliveryStatus.queued)
                           .values(status=DeliveryStatus.cancelled)
                           .execution_options(synchronize_session=False)).rowcount or 0
    db.commit()
    return cancelled


def pause_after_failures(db: Session, issue_id: int, failures: list[Outcome]) -> None:
    """Too many failures in a row: something is wrong with the relay or the list. Pause, keep the
    reason, and tell the editors by e-mail."""
    issue = db.get(Issue, issue_id)
    if issue is None or issue.status is not IssueStatus.sending:
        return
    last = failures[-1]
    issue.status = IssueStatus.paused
    issue.send_error = (f"Envoi mis en pause automatiquement après {len(failures)} échecs d'affilée. "
                        f"Dernière réponse du serveur : {last.code or ''} {last.reply or ''}".strip())
    editors = db.scalars(select(User).where(User.role.in_([Role.editor, Role.admin]), User.active)).all()
    for editor in editors:
        queue_email(db, "mailout_paused", editor.email, {
            "issue": issue, "reason": issue.send_error,
            "url": urls.absolute(f"/redaction/numeros/{issue.id}"), "progress": progress(db, issue_id)})
    db.commit()
    log.warning("issue %s paused after %s consecutive failures", issue_id, len(failures))


# --- Visibility ---------------------------------------------------------------------------------

@dataclass
class Progress:
    total: int
    sent: int
    failed: int
    queued: int
    claimed: int
    cancelled: int = 0
    rate: float | None = None        # messages per second since the send started
    eta_seconds: float | None = None

    @property
    def remaining(self) -> int:
        return self.queued + self.claimed

    @property
    def done(self) -> int:
        return self.sent + self.failed


def progress(db: Session, issue_id: int) -> Progress:
    counts = dict(db.execute(select(Delivery.status, func.count()).where(Delivery.issue_id == issue_id)
                             .group_by(Delivery.status)).all())
    values = {s.value: counts.get(s, 0) or counts.get(s.value, 0) for s in DeliveryStatus}
    p = Progress(total=sum(values.values()), **values)
    issue = db.get(Issue, issue_id)
    if issue is not None and issue.send_started_at and p.done:
        end = issue.sent_at or utcnow()
        elapsed = max((end - issue.send_started_at).total_seconds(), 0.001)
        p.rate = p.done / elapsed
        p.eta_seconds = p.remaining / p.rate if issue.status is IssueStatus.sending else None
    return p


def failed_deliveries(db: Session, issue_id: int, limit: int = 100) -> list[tuple[Delivery, str]]:
    rows = db.execute(select(Delivery, Subscriber.email).join(Subscriber)
                      .where(Delivery.issue_id == issue_id, Delivery.status == DeliveryStatus.failed)
                      .order_by(Delivery.id).limit(limit)).all()
    return [(d, email) for d, email in rows]


# --- Test send ----------------------------------------------------------------------------------

def send_test(db: Session, issue: Issue, address: str) -> OutboundEmail:
    """Send the letter as it would go out, to one address, through the outbox. Nothing is
    recorded as a delivery; the unsubscribe link points to the generic page."""
    return queue_rendered(db, "letter", address, neutral_letter(render_letter(issue)),
                          headers=letter_headers(archive_slot_values()["unsubscribe_url"]),
                          subject_prefix="[TEST] ")
