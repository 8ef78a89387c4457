"""Feed polling: beat wakes `poll_feeds` every FEED_POLL_MINUTES; it fans out one task per
structure whose feed is due, so one slow or failing feed never holds up the others."""
from __future__ import annotations

from contributions import feeds
from core.db import session
from parentalites.celery_app import celery_app


@celery_app.task(name="tasks.feeds.poll_feeds")
def poll_feeds() -> int:
    return feeds.request_due_polls(session())


@celery_app.task(name="tasks.feeds.poll_structure")
def poll_structure(structure_id: int) -> dict:
    result = feeds.poll_structure(session(), structure_id)
    return {"status": result.status, "created": result.created}
