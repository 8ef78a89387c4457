"""Webhook tasks: one attempt of a delivery (retried with exponential backoff); re-send what a lost
message left behind."""
from __future__ import annotations

from core.db import session
from parentalites.celery_app import celery_app
from parentalites.webhooks import services as webhooks


@celery_app.task(name="tasks.webhooks.deliver", bind=True, max_retries=None)
def deliver(self, delivery_id: int) -> str | None:
    # The number of attempts is the delivery's own (WEBHOOK_MAX_ATTEMPTS), kept in the database.
    try:
        status = webhooks.deliver(session(), delivery_id)
    except webhooks.RetryLater as exc:
        raise self.retry(exc=exc, countdown=exc.delay) from exc
    return status.value if status else None


@celery_app.task(name="tasks.webhooks.sweep")
def sweep() -> int:
    return webhooks.wake_stale(session())
