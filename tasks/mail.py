"""Outbox tasks: send one transactional e-mail; re-send what a lost message left behind."""
from __future__ import annotations

import smtplib
from datetime import timedelta

from sqlalchemy import select

from core import jobs
from core.db import get_engine, session, utcnow
from mailing.models import OutboundEmail, OutboundStatus
from mailing.outbox import TemporarySMTPError
from mailing.outbox import send_outbound as send_outbound_email
from parentalites.celery_app import celery_app


@celery_app.task(name="tasks.mail.send_outbound", bind=True, max_retries=4)
def send_outbound(self, outbound_id: int) -> str:
    get_engine()
    try:
        return send_outbound_email(session(), outbound_id).value
    except (TemporarySMTPError, smtplib.SMTPException, OSError) as exc:
        raise self.retry(exc=exc, countdown=30 * 2 ** self.request.retries) from exc


@celery_app.task(name="tasks.mail.sweep_outbox")
def sweep_outbox() -> int:
    """Wake up outbox e-mails whose trigger was lost (a flushed broker, a crash)."""
    get_engine()
    db = session()
    stale = list(db.scalars(select(OutboundEmail.id).where(
        OutboundEmail.status == OutboundStatus.queued,
        OutboundEmail.created_at < utcnow() - timedelta(minutes=10))))
    for outbound_id in stale:
        jobs.enqueue(db, "tasks.mail.send_outbound", outbound_id)
    db.commit()
    return len(stale)
