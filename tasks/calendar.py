"""Editorial calendar task: a thin wrapper; the service is newsletter.calendar."""
from __future__ import annotations

from core.db import session
from newsletter import calendar
from parentalites.celery_app import celery_app


@celery_app.task(name="tasks.calendar.send_due_calls")
def send_due_calls() -> dict:
    """Run hourly by beat: appels à contributions and editors' reminders that are due, each once."""
    return calendar.send_due(session())
