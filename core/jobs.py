"""Ask a worker to run a task, once the current transaction has committed.

Services decide *that* something must run in the background; the `tasks` package decides *how*
(Celery). Services call `enqueue("tasks.name", ...)`; the message leaves only after COMMIT, so a
worker never looks for a row that is not there yet, and a rolled-back request sends nothing.
The database stays the truth: every job here can be re-derived by a periodic sweeper if its
message is lost.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
Sender = Callable[[str, tuple, dict], Any]
_sender: Sender | None = None
_PENDING = "parentalites_pending_jobs"


def set_sender(sender: Sender | None) -> None:
    """Install the function that hands a job to the broker (the tasks package does this)."""
    global _sender
    _sender = sender


def enqueue(db: Session, task_name: str, *args: Any, **options: Any) -> None:
    db.info.setdefault(_PENDING, []).append((task_name, args, options))


def install(session_factory) -> None:
    """Hand pending jobs over after COMMIT, drop them on ROLLBACK: for the sessions this factory
    makes (the project's own sessionmaker; the bootstrap calls this once)."""
    if not event.contains(session_factory, "after_commit", _send_pending):
        event.listen(session_factory, "after_commit", _send_pending)
        event.listen(session_factory, "after_rollback", _drop_pending)


def _send_pending(db: Session) -> None:
    pending = db.info.pop(_PENDING, [])
    if not pending:
        return
    if _sender is None:
        raise RuntimeError("no job sender installed: call parentalites.bootstrap.bootstrap() first")
    for task_name, args, options in pending:
        try:
            _sender(task_name, args, options)
        except Exception:  # noqa: BLE001
            # The row is committed; a sweeper run by beat finds it and sends the job again.
            log.exception("could not hand %s%r to the broker; the sweeper will retry", task_name, args)


def _drop_pending(db: Session) -> None:
    db.info.pop(_PENDING, None)
