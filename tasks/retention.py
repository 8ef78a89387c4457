"""Retention, once a day (beat): the subscribers' rules (re-permission, erasure after no answer,
unconfirmed subscriptions) and the anonymisation of old event registrations."""
from __future__ import annotations

from core.db import session
from events import retention as events_retention
from parentalites.celery_app import celery_app
from subscribers import retention

EVERY_SECONDS = 24 * 3600.0


@celery_app.task(name="tasks.retention.purge")
def purge() -> dict:
    db = session()
    report = retention.purge(db)
    report.others["registrations_anonymised"] = events_retention.anonymise_expired_registrations(db)
    return report.counts()
