"""Beat's schedule names tasks that exist."""
from __future__ import annotations


def test_beat_runs_the_retention_rules_daily():
    from parentalites.celery_app import celery_app
    entry = celery_app.conf.beat_schedule["retention-purge"]
    assert entry == {"task": "tasks.retention.purge", "schedule": 24 * 3600.0}
    celery_app.loader.import_default_modules()
    assert "tasks.retention.purge" in celery_app.tasks
