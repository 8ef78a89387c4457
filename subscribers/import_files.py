"""Where an uploaded subscriber CSV waits between its preview and its confirmation, and the sweep
that abandons previews nobody confirmed: the file holds personal data, so it must not outlive
the day it was uploaded (the daily retention job calls `sweep_previews`)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.settings import get_settings
from subscribers.models import SubscriberImport

log = logging.getLogger(__name__)

PREVIEW_LIFETIME = timedelta(hours=24)


def directory() -> Path:
    path = get_settings().data_dir / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def preview_path(record: SubscriberImport) -> Path:
    return directory() / f"{record.token}.csv"


def sweep_previews(db: Session, now: datetime | None = None) -> int:
    """Abandon the previews older than PREVIEW_LIFETIME and delete their files, and any file left in
    the directory without a waiting preview (a crash between two steps); the caller commits.
    Returns the number of files deleted."""
    now = now or utcnow()
    cutoff = now - PREVIEW_LIFETIME
    for record in db.scalars(select(SubscriberImport).where(
            SubscriberImport.status == "preview", SubscriberImport.created_at < cutoff)):
        record.status = "abandoned"
        record.finished_at = now
    waiting = set(db.scalars(select(SubscriberImport.token).where(SubscriberImport.status == "preview")))
    deleted = 0
    for path in directory().glob("*.csv"):
        if path.stem in waiting:
            continue
        recorded = db.scalar(select(SubscriberImport.id).where(SubscriberImport.token == path.stem)) is not None
        if not recorded and path.stat().st_mtime > cutoff.timestamp():
            continue  # an upload in progress: its row is not committed yet
        path.unlink(missing_ok=True)
        deleted += 1
    if deleted:
        log.info("subscriber import previews swept, files deleted: %d", deleted)
    return deleted

