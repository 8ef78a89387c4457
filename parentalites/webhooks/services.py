"""Endpoints (what an admin registers), the dispatch of the domains' signals into deliveries, and
the delivery itself: one attempt per task run, retried with exponential backoff.

A delivery row is written in the action's own transaction and its job leaves after COMMIT
(core.jobs): a rolled-back action sends nothing, and a lost job is found again by the sweeper."""
from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accounts import journal
from accounts.models import Role, User
from contributions import signals as contribution_signals
from core import jobs, urls
from core.db import utcnow
from core.settings import get_settings
from events import signals as event_signals
from mailing.outbox import queue_email
from newsletter import signals as newsletter_signals
from parentalites.webhooks import events, sending
from parentalites.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from subscribers import signals as subscriber_signals

log = logging.getLogger(__name__)

DELIVER_TASK = "tasks.webhooks.deliver"
MAX_RETRY_DELAY = 1800.0  # seconds: far below Redis's visibility timeout (parentalites/celery_app.py)
STALE_AFTER = timedelta(minutes=10)  # a pending delivery this late has lost its job
EARLY_SLACK = timedelta(seconds=2)   # clocks of two workers may differ by this much
SECRET_PREFIX = "whsec_"

journal.register_actions({
    "webhook.created": _l("Webhook ajouté"),
    "webhook.updated": _l("Webhook modifié"),
    "webhook.deleted": _l("Webhook supprimé"),
    "webhook.secret_rotated": _l("Secret d'un webhook renouvelé"),
    "webhook.disabled": _l("Webhook désactivé après des échecs"),
})


class WebhookError(ValueError):
    """What the admin asked cannot be done; the message says why, in French."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _checked(url: str, chosen: Iterable[str]) -> tuple[str, list[str]]:
    url = (url or "").strip()
    if len(url) > 2000:
        raise WebhookError("L'adresse est trop longue (2 000 caractères au plus).")
    try:
        sending.check_url(url)
    except sending.UnsafeURL as exc:
        raise WebhookError(str(exc)) from None
    kept = [event for event in events.EVENTS if event in set(chosen)]
    if not kept:
        raise WebhookError("Choisissez au moins un événement.")
    return url, kept


def _target(endpoint: WebhookEndpoint) -> str:
    return f"webhook:{endpoint.id}"


def create_endpoint(db: Session, admin: User, url: str, chosen: Iterable[str],
                    description: str = "") -> WebhookEndpoint:
    """A new active endpoint with a fresh secret. Raises WebhookError (private address, no event…)."""
    url, kept = _checked(url, chosen)
    endpoint = WebhookEndpoint(url=url, events=kept, description=description.strip()[:200],
                               secret=new_secret(), active=True, created_by_id=admin.id)
    db.add(endpoint)
    db.flush()
    journal.record(db, admin, "webhook.created", f"Webhook ajouté : {url} ({', '.join(kept)})",
                   target=_target(endpoint), details={"url": url, "events": kept})
    return endpoint


def update_endpoint(db: Session, admin: User, endpoint: WebhookEndpoint, url: str, chosen: Iterable[str],
                    description: str, active: bool) -> None:
    """Change an endpoint; switching it on again forgets its failures."""
    url, kept = _checked(url, chosen)
    before = {"url": endpoint.url, "events": list(endpoint.events), "active": endpoint.active}
    endpoint.url, endpoint.events, endpoint.description = url, kept, description.strip()[:200]
    if active and not endpoint.active:
        endpoint.consecutive_failures = 0
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
    endpoint.active = active
    after = {"url": url, "events": kept, "active": active}
    journal.record(db, admin, "webhook.updated", f"Webhook modifié : {url}" + ("" if active else " (désactivé)"),
                   target=_target(endpoint), details={"before": before, "after": after})


def rotate_secret(db: Session, admin: User, endpoint: WebhookEndpoint) -> None:
    endpoint.secret = new_secret()
    journal.record(db, admin, "webhook.secret_rotated", f"Secret renouvelé pour le webhook {endpoint.url}",
                   target=_target(endpoint))


def delete_endpoint(db: Session, admin: User, endpoint: WebhookEndpoint) -> None:
    journal.record(db, admin, "webhook.deleted", f"Webhook supprimé : {endpoint.url}",
                   target=_target(endpoint), details={"url": endpoint.url, "events": list(endpoint.events)})
    db.delete(endpoint)


def recent_attempts(db: Session, endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookAttempt]:
    return list(db.scalars(select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint.id)
                           .order_by(WebhookAttempt.id.desc()).limit(limit)))


# --- From a signal to deliveries -------------------------------------------------------------------

def _delivery(endpoint: WebhookEndpoint, event: str, data: dict) -> WebhookDelivery:
    event_id = str(uuid.uuid4())
    body = json.dumps({"id": event_id, "type": event, "created_at": events.when(utcnow()), "data": data},
                      ensure_ascii=False, separators=(",", ":"))
    return WebhookDelivery(endpoint_id=endpoint.id, event=event, event_id=event_id, body=body,
                           next_attempt_at=utcnow())


def dispatch(db: Session, event: str, data: dict) -> list[WebhookDelivery]:
    """One delivery per active endpoint that wants `event`, in the caller's transaction; each job
    leaves after its COMMIT."""
    endpoints = [endpoint for endpoint in db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active))
                 if event in (endpoint.events or ())]
    deliveries = [_delivery(endpoint, event, data) for endpoint in endpoints]
    if deliveries:
        db.add_all(deliveries)
        db.flush()
        for delivery in deliveries:
            jobs.enqueue(db, DELIVER_TASK, delivery.id)
    return deliveries


def send_test(db: Session, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `ping` event to this endpoint only (whatever events it chose), to check the receiver and
    its signature check; it is logged and retried like any other."""
    if not endpoint.active:
        raise WebhookError("Ce webhook est inactif : réactivez-le avant de l'essayer.")
    delivery = _delivery(endpoint, events.PING, {"message": "Essai envoyé depuis la page du webhook."})
    db.add(delivery)
    db.flush()
    jobs.enqueue(db, DELIVER_TASK, delivery.id)
    return delivery


def _on_subscriber_confirmed(db, subscriber, **_):
    dispatch(db, "subscriber.confirmed", events.subscriber_confirmed(subscriber))


def _on_subscriber_unsubscribed(db, subscriber, via="web", **_):
    dispatch(db, "subscriber.unsubscribed", events.subscriber_unsubscribed(subscriber, via))


def _on_letter_sent(db, issue, **_):
    db.refresh(issue, ["sent_at"])  # written by a bulk UPDATE (newsletter.mailout.finish_if_done)
    dispatch(db, "letter.sent", events.letter_sent(issue))


def _on_contribution_accepted(db, contribution, **_):
    dispatch(db, "contribution.accepted", events.contribution_accepted(contribution))


def _on_registration_created(db, registration, **_):
    dispatch(db, "registration.created", events.registration(registration))


def _on_registration_cancelled(db, registration, previous=None, **_):
    dispatch(db, "registration.cancelled", events.registration(registration, previous))


def install() -> None:
    """Listen to the domains' signals (the bootstrap calls this once; blinker keeps one connection
    per receiver, so calling it again changes nothing)."""
    subscriber_signals.subscriber_confirmed.connect(_on_subscriber_confirmed, weak=False)
    subscriber_signals.subscriber_unsubscribed.connect(_on_subscriber_unsubscribed, weak=False)
    newsletter_signals.letter_sent.connect(_on_letter_sent, weak=False)
    contribution_signals.contribution_accepted.connect(_on_contribution_accepted, weak=False)
    event_signals.registration_created.connect(_on_registration_created, weak=False)
    event_signals.registration_cancelled.connect(_on_registration_cancelled, weak=False)


# --- Delivering ------------------------------------------------------------------------------------

class RetryLater(Exception):
    """The attempt failed and is recorded (committed); try again in `delay` seconds."""

    def __init__(self, delay: float, error: str):
        super().__init__(error)
        self.delay = delay


def retry_delay(attempts_made: int) -> float:
    """Exponential backoff: WEBHOOK_RETRY_DELAY after the first failure, doubled after each."""
    return min(get_settings().webhook_retry_delay * 2 ** (attempts_made - 1), MAX_RETRY_DELAY)


def deliver(db: Session, delivery_id: int) -> DeliveryStatus | None:
    """One attempt of a pending delivery, recorded in the log. A failure with attempts left is
    committed, then raises RetryLater; the last failure marks the delivery failed. Every failed
    attempt counts against the endpoint: WEBHOOK_FAILURE_THRESHOLD in a row disable it."""
    settings = get_settings()
    delivery = db.get(WebhookDelivery, delivery_id, with_for_update=not settings.is_sqlite)
    if delivery is None or delivery.status is not DeliveryStatus.pending:
        return delivery.status if delivery else None
    if delivery.next_attempt_at and delivery.next_attempt_at > utcnow() + EARLY_SLACK:
        return delivery.status  # another run has just tried (a sweep raced a retry): its retry comes later
    endpoint = delivery.endpoint
    if not endpoint.active:
        delivery.status = DeliveryStatus.failed  # switched off meanwhile: never sent
        delivery.next_attempt_at = None
        return delivery.status
    timestamp = int(utcnow().timestamp())
    body = delivery.body.encode()
    headers = {sending.SIGNATURE_HEADER: sending.sign(endpoint.secret, timestamp, body),
               "Parentalites-Event": delivery.event, "Parentalites-Delivery": delivery.event_id}
    answer = sending.post(endpoint.url, body, headers, settings.webhook_timeout)
    delivery.attempts += 1
    db.add(WebhookAttempt(endpoint_id=endpoint.id, delivery_id=delivery.id, number=delivery.attempts,
                          status_code=answer.status_code, duration_ms=answer.duration_ms, error=answer.error))
    if answer.ok:
        delivery.status = DeliveryStatus.delivered
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
        return delivery.status
    endpoint.consecutive_failures = (endpoint.consecutive_failures or 0) + 1
    log.warning("webhook %s, delivery %s, attempt %s: %s", endpoint.id, delivery.id, delivery.attempts, answer.error)
    if endpoint.consecutive_failures >= settings.webhook_failure_threshold:
        _disable(db, endpoint, answer.error or "")
        return delivery.status  # failed with the rest of the endpoint's deliveries
    if delivery.attempts >= settings.webhook_max_attempts:
        delivery.status = DeliveryStatus.failed
        delivery.next_attempt_at = None
        return delivery.status
    delay = retry_delay(delivery.attempts)
    delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
    db.commit()  # the attempt is logged before raising: the task rolls back, then retries
    raise RetryLater(delay, answer.error or "")


def _disable(db: Session, endpoint: WebhookEndpoint, error: str) -> None:
    """Switch the endpoint off, give up its pending deliveries, tell the admins once."""
    endpoint.active = False
    endpoint.disabled_at = utcnow()
    endpoint.disabled_reason = f"{endpoint.consecutive_failures} échecs consécutifs ; dernière erreur : {error}"[:1000]
    db.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                             WebhookDelivery.status == DeliveryStatus.pending)
               .values(status=DeliveryStatus.failed, next_attempt_at=None))
    journal.record(db, None, "webhook.disabled",
                   f"Webhook {endpoint.url} désactivé après {endpoint.consecutive_failures} échecs consécutifs",
                   target=_target(endpoint), details={"error": error[:300]})
    admins = db.scalars(select(User).where(User.role == Role.admin, User.active).order_by(User.id)).all()
    for admin in admins:
        queue_email(db, "webhook_disabled", admin.email, {
            "endpoint": endpoint, "failures": endpoint.consecutive_failures, "error": error,
            "url": urls.absolute(f"/redaction/webhooks/{endpoint.id}")})
    log.warning("webhook %s disabled after %s failures in a row", endpoint.id, endpoint.consecutive_failures)


def wake_stale(db: Session) -> int:
    """Ask a worker again for every pending delivery whose job was lost (a flushed broker, a crash)."""
    stale = list(db.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status == DeliveryStatus.pending,
        WebhookDelivery.next_attempt_at < utcnow() - STALE_AFTER)))
    for delivery_id in stale:
        jobs.enqueue(db, DELIVER_TASK, delivery_id)
    return len(stale)
