"""Mail-out tasks: thin wrappers; the engine is newsletter.mailout."""
from __future__ import annotations

import smtplib

from core.db import session
from newsletter import mailout
from parentalites.celery_app import celery_app


@celery_app.task(name="tasks.mailout.start_mailout")
def start_mailout(issue_id: int) -> int:
    return mailout.start(session(), issue_id)


@celery_app.task(name="tasks.mailout.send_batch", bind=True, max_retries=5)
def send_batch(self, issue_id: int) -> int:
    try:
        return mailout.run_batch(session(), issue_id)
    except (smtplib.SMTPException, OSError) as exc:
        # The SMTP server could not be reached: the claimed rows were given back; try later.
        raise self.retry(exc=exc, countdown=min(300, 15 * 2 ** self.request.retries)) from exc


@celery_app.task(name="tasks.mailout.sweep")
def sweep() -> dict:
    return mailout.sweep(session())
