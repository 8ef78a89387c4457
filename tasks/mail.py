"""Outbox tasks: send one transactional e-mail; re-send what a lost message left behind."""
from __future__ import annotations

import smtplib

from core.db import session
from mailing import outbox
from mailing.outbox import TemporarySMTPError
from parentalites.celery_app import celery_app


@celery_app.task(name="tasks.mail.send_outbound", bind=True, max_retries=4)
def send_outbound(self, outbound_id: int) -> str:
    try:
        return outbox.send_outbound(session(), outbound_id).value
    except (TemporarySMTPError, smtplib.SMTPException, OSError) as exc:
        raise self.retry(exc=exc, countdown=30 * 2 ** self.request.retries) from exc


@celery_app.task(name="tasks.mail.sweep_outbox")
def sweep_outbox() -> int:
    """Wake up outbox e-mails whose trigger was lost (a flushed broker, a crash)."""
    return outbox.wake_stale(session())

