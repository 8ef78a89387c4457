"""Sending an issue: compile once, plan, send in claimed batches, recover, finish.

This module owns the life of an issue's mail-out (listmonk's habit): when it may start, who it is
planned for (each kind of issue says so: a letter goes to the active subscribers of its segment,
every one when it has none; an invitation to its segment, less those already invited), pausing,
resuming, cancelling, and what happens once it is sent. The ledger and
the wire (claiming, SMTP, throttle, recording) are mailing.engine's. The database is the truth:
the broker only wakes workers up, and the sweeper run by beat gives back stale claims and wakes
workers again, so a killed worker or a flushed Redis loses no recipient.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, literal, select, update
from sqlalchemy.orm import Session

from accounts.models import Role, User
from contributions.services import mark_published
from core import jobs, urls
from core.db import affected_rows, utcnow
from core.settings import get_settings
from mailing import engine
from mailing.engine import RelayUnreachable, neutral_letter, slot
from mailing.models import Delivery, DeliveryStatus, OutboundEmail
from mailing.outbox import queue_email, queue_rendered
from mailing.sender import RelayPool
from mailing.templates import RenderedEmail, email_environment, render_email
from newsletter import signals
from newsletter.models import Issue, IssueKind, IssueStatus
from subscribers import segments
from subscribers.models import Subscriber, SubscriberStatus

log = logging.getLogger(__name__)

SEND_BATCH_TASK = "tasks.mailout.send_batch"
START_TASK = "tasks.mailout.start_mailout"

# Where the ledger finds a recipient's address, name and personal token.
RECIPIENTS = engine.RecipientColumns(Subscriber.id, Subscriber.email, Subscriber.name,
                                     Subscriber.unsubscribe_token)



class MailoutError(ValueError):
    """An editor asked for something the issue's state does not allow; the message says why."""


# --- Kinds of issue -----------------------------------------------------------------------------

@dataclass(frozen=True)
class KindRules:
    """What the mail-out asks an issue's kind: how to render it (slots left in place), which active
    subscribers receive it (an extra SQL condition, or None for all), whether it is published in
    the archive, and whether it may be sent (raises MailoutError with the reason)."""
    render: Callable[[Issue], RenderedEmail]
    recipients: Callable[[Issue], ColumnElement[bool]] | None
    archived: bool
    check: Callable[[Issue], None]


_KINDS: dict[IssueKind, KindRules] = {}


def register_kind(kind: IssueKind, rules: KindRules) -> None:
    """Called by the bootstrap for kinds owned by other packages (events' invitations)."""
    _KINDS[kind] = rules


def rules_for(issue: Issue) -> KindRules:
    kind = IssueKind(issue.kind or IssueKind.letter)
    if kind not in _KINDS:
        raise MailoutError(f"Type de numéro inconnu : {kind.value} (bootstrap non appelé ?)")
    return _KINDS[kind]


# --- Compile once -------------------------------------------------------------------------------

def _render_numero(issue: Issue) -> RenderedEmail:
    assert issue.numero is not None  # a letter has one from create_issue (an invitation has none)
    return render_email("letter", {
        "issue": issue, "sections": issue.items_by_rubrique(),
        "web_url": urls.absolute(urls.letter_path(issue.numero)),
        "subscribe_url": urls.absolute("/abonnement"),
        "unsubscribe_url": slot("unsubscribe_url"), "greeting": slot("greeting"),
        "preferences_url": slot("preferences_url"),
    })


def _check_numero(issue: Issue) -> None:
    if not issue.items:
        raise MailoutError("Ce numéro ne contient aucun article.")


def _segment_recipients(issue: Issue) -> ColumnElement[bool]:
    """A letter goes to its segment (Issue.segment, chosen in the composer; None: everyone)."""
    return segments.condition(issue.segment)


register_kind(IssueKind.letter, KindRules(render=_render_numero, recipients=_segment_recipients, archived=True,
                                          check=_check_numero))


def render_letter(issue: Issue) -> RenderedEmail:
    """Render an issue through its kind's templates, slots left in place (the template's only)."""
    return engine.render_with_slots(lambda: rules_for(issue).render(issue))


def render_web_version(issue: Issue) -> str:
    """The letter as an accessible web page fragment, frozen into the archive."""
    return email_environment().get_template("letter/web.html").render(
        issue=issue, sections=issue.items_by_rubrique(), settings=get_settings())


def compile_issue(db: Session, issue: Issue) -> None:
    """Compile the letter once and freeze its archive copy (templates may change later)."""
    rendered = render_letter(issue)
    issue.subject = rendered.subject
    issue.compiled_html = rendered.html
    issue.compiled_text = rendered.text
    issue.compiled_at = utcnow()
    issue.archive_email_html = neutral_letter(rendered).html  # also the editor's preview
    if rules_for(issue).archived:
        issue.archive_html = render_web_version(issue)
        issue.archive_summary = _summary(issue)


def _summary(issue: Issue) -> str:
    titles = [item.contribution.title for item in issue.items]
    return " · ".join(titles[:8])


# --- Plan ---------------------------------------------------------------------------------------

def plan(db: Session, issue: Issue) -> int:
    """One queued Delivery per active subscriber the issue's kind selects, in one INSERT … SELECT.
    Planning twice adds nobody twice. Returns the number of rows added."""
    eligible = select(Subscriber.id).where(Subscriber.status == SubscriberStatus.active)
    condition = rules_for(issue).recipients
    if condition is not None:
        eligible = eligible.where(condition(issue))
    return engine.plan(db, issue.id, eligible)


# --- Start, schedule ----------------------------------------------------------------------------

def request_send(db: Session, issue: Issue, when: datetime | None = None) -> None:
    """Schedule the issue for `when` (now if None). Beat starts due issues; sending now also
    wakes a worker at once."""
    if issue.status not in (IssueStatus.draft, IssueStatus.scheduled):
        raise MailoutError("Ce numéro a déjà été envoyé ou est en cours d'envoi.")
    rules_for(issue).check(issue)
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
    """Move a due issue to sending: compile once, plan, wake the workers (after the caller's
    COMMIT). Idempotent: a second call (a retried task, beat catching up) plans nobody twice, the
    issue's row being locked until then. Returns deliveries queued."""
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
            assert issue is not None  # read above: rolling back does not delete it
            issue.status, issue.scheduled_at, issue.send_started_at = IssueStatus.draft, None, None
            issue.send_error = f"{type(exc).__name__} : {exc}"
            db.flush()
            log.exception("issue %s could not be compiled", issue_id)
            return 0
    issue.send_error = None
    plan(db, issue)
    issue.mailout_heartbeat_at = utcnow()
    queued = count_claimable(db, issue.id)
    for _ in range(min(get_settings().mailout_parallelism, max(1, -(-queued // get_settings().mailout_batch_size)))):
        jobs.enqueue(db, SEND_BATCH_TASK, issue.id)
    if queued == 0:
        finish_if_done(db, issue.id)
    return queued


def due_issue_ids(db: Session, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(db.scalars(select(Issue.id).where(
        Issue.status == IssueStatus.scheduled, Issue.scheduled_at <= now)))


# --- Send ---------------------------------------------------------------------------------------

def count_claimable(db: Session, issue_id: int) -> int:
    return engine.count_claimable(db, issue_id)


def message_id_prefix(issue: Issue) -> str:
    # An invitation has no numéro: its Message-ID names the issue row instead.
    return f"lettre-{issue.numero}" if issue.numero is not None else f"{IssueKind(issue.kind).value}-i{issue.id}"


def letter_mime(issue: Issue):
    """The issue's letter, MIME-encoded once; each recipient's copy fills a few lines."""
    return engine.letter_mime(issue.subject or "", issue.compiled_html or "", issue.compiled_text or "")


def run_batch(db: Session, issue_id: int) -> int:
    """Claim one batch, send it, record it, and wake the next batch (or finish the issue).
    The claim, the outcomes and the end of the issue are each committed at once (mailing.engine,
    finish_if_done); the rest (a wake-up, a pause) with the caller's. Returns the number of
    deliveries handled."""
    issue = db.get(Issue, issue_id)
    if issue is None or issue.status is not IssueStatus.sending:
        return 0
    token, claimed = engine.claim_batch(db, issue_id, get_settings().mailout_batch_size, RECIPIENTS)
    if not claimed:
        if not finish_if_done(db, issue_id):
            wake_next_batch(db, issue_id)  # some wait for their time (a retry, a rate limit)
        return 0

    def keepalive() -> None:
        db.execute(update(Delivery)
                   .where(Delivery.claim_token == token, Delivery.status == DeliveryStatus.claimed)
                   .values(claimed_at=utcnow()).execution_options(synchronize_session=False))
        db.commit()  # the sweeper must see the claim is alive, now

    with RelayPool() as pool:
        result = engine.send_claimed(letter_mime(issue), message_id_prefix(issue), claimed, pool, keepalive)
    outcomes = result.outcomes
    engine.record(db, token, outcomes)
    db.execute(update(Issue).where(Issue.id == issue_id).values(mailout_heartbeat_at=utcnow()))
    max_failures = get_settings().mailout_max_consecutive_failures
    streak = engine.failure_streak(outcomes)
    if max_failures and streak >= max_failures:
        refusals = [o for o in outcomes if o.code is not None]
        pause_after_failures(db, issue_id, refusals[-streak:])
        return len(claimed)
    if result.connection_lost:
        db.commit()  # the heartbeat is kept before raising: the task rolls back, then retries
        raise RelayUnreachable(result.connection_lost)  # the task retries later, with backoff
    wake_next_batch(db, issue_id, result.wake_in)
    finish_if_done(db, issue_id)  # commits: the wake-up leaves then (core.jobs)
    return len(claimed)


def wake_next_batch(db: Session, issue_id: int, wake_in: float | None = None) -> None:
    """Wake a worker for the next batch: now if some deliveries may leave, else when the first
    delayed one may (a 4xx retry, a rate limit), at most a minute ahead; the sweeper covers the rest."""
    if wake_in is None and engine.count_claimable(db, issue_id):
        jobs.enqueue(db, SEND_BATCH_TASK, issue_id)
        return
    earliest = engine.earliest_retry(db, issue_id)
    if wake_in is not None:
        delay = wake_in
    elif earliest is not None:
        delay = (earliest - utcnow()).total_seconds()
    else:
        return
    jobs.enqueue(db, SEND_BATCH_TASK, issue_id, countdown=min(max(delay, 0.0), 60.0))


def finish_if_done(db: Session, issue_id: int) -> bool:
    """Mark the issue sent and publish it in the archive once no delivery is left to send."""
    if engine.remaining(db, issue_id):
        return False
    now = utcnow()
    result = db.execute(update(Issue).where(Issue.id == issue_id, Issue.status == IssueStatus.sending)
                        .values(status=IssueStatus.sent, sent_at=now,
                                published_at=case((Issue.kind == IssueKind.letter,
                                                   literal(now, Issue.published_at.type)), else_=None)))
    sent = bool(affected_rows(result))
    if sent:
        issue = db.get(Issue, issue_id)
        assert issue is not None  # the UPDATE just matched it
        if rules_for(issue).archived:
            mark_published(db, [item.contribution for item in issue.items],
                           f"Publiée dans la lettre n°{issue.numero}")
            if issue.kind is IssueKind.letter:
                signals.letter_sent.send(db, issue=issue)
            log.info("issue %s sent and published in the archive", issue_id)
        else:
            log.info("issue %s (%s) sent", issue_id, issue.kind)
    db.commit()  # its own transaction: after a batch's outcomes, and per issue in the sweep
    return sent


# --- Recover ------------------------------------------------------------------------------------

def sweep(db: Session, now: datetime | None = None) -> dict[str, int]:
    """Run by beat: start due issues, give stale claims back, wake workers for mail-outs whose
    trigger was lost (killed worker, flushed broker), finish what is done."""
    settings = get_settings()
    now = now or utcnow()
    released = engine.release_stale(db, now - timedelta(seconds=settings.mailout_stale_after))
    db.commit()  # claims given back at once, before any worker is woken
    for issue_id in due_issue_ids(db, now):
        jobs.enqueue(db, START_TASK, issue_id)
    woken = 0
    quiet_before = now - timedelta(seconds=min(60, settings.mailout_stale_after))
    for issue in db.scalars(select(Issue).where(Issue.status == IssueStatus.sending)):
        quiet = issue.mailout_heartbeat_at is None or issue.mailout_heartbeat_at < quiet_before
        if engine.count_claimable(db, issue.id) and (quiet or released):
            issue.mailout_heartbeat_at = now
            for _ in range(settings.mailout_parallelism):
                jobs.enqueue(db, SEND_BATCH_TASK, issue.id)
            woken += 1
    db.commit()  # the wake-ups leave now, whatever finishing an issue does next
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
    db.flush()


def resume(db: Session, issue: Issue) -> None:
    if issue.status is not IssueStatus.paused:
        raise MailoutError("Cet envoi n'est pas en pause.")
    issue.status = IssueStatus.sending
    issue.send_error = None
    issue.mailout_heartbeat_at = utcnow()
    for _ in range(get_settings().mailout_parallelism):
        jobs.enqueue(db, SEND_BATCH_TASK, issue.id)
    db.flush()


def cancel(db: Session, issue: Issue) -> int:
    """Stop for good: deliveries not yet sent are cancelled (a batch on the wire finishes).
    The letter is not published. Returns the number of deliveries cancelled."""
    if issue.status not in (IssueStatus.scheduled, IssueStatus.sending, IssueStatus.paused):
        raise MailoutError("Cet envoi ne peut pas être annulé.")
    issue.status = IssueStatus.cancelled
    return engine.cancel_queued(db, issue.id)


def pause_after_failures(db: Session, issue_id: int, failures: list[engine.Outcome]) -> None:
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
    db.flush()
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
    counts = engine.status_counts(db, issue_id)
    p = Progress(total=sum(counts.values()), **counts)
    issue = db.get(Issue, issue_id)
    if issue is not None and issue.send_started_at and p.done:
        end = issue.sent_at or utcnow()
        elapsed = max((end - issue.send_started_at).total_seconds(), 0.001)
        p.rate = p.done / elapsed
        p.eta_seconds = p.remaining / p.rate if issue.status is IssueStatus.sending else None
    return p


def shown_progress(db: Session, issue: Issue) -> Progress | None:
    """The progress an issue's (or an invitation's) page shows: from the moment sending is asked
    for and due (before a worker has planned anyone: all zeros), else None."""
    shown = (IssueStatus.sending, IssueStatus.paused, IssueStatus.sent, IssueStatus.cancelled)
    return progress(db, issue.id) if issue.status in shown or issue.is_starting else None


def failed_deliveries(db: Session, issue_id: int, limit: int = 100) -> list[tuple[Delivery, str]]:
    return engine.failed_deliveries(db, issue_id, RECIPIENTS, limit)


# --- Test send ----------------------------------------------------------------------------------

def send_test(db: Session, issue: Issue, address: str) -> OutboundEmail:
    """Send the letter as it would go out, to one address, through the outbox. Nothing is
    recorded as a delivery; the unsubscribe link points to the generic page."""
    return queue_rendered(db, "letter", address, neutral_letter(render_letter(issue)),
                          headers=engine.test_send_headers(),
                          subject_prefix="[TEST] ")
