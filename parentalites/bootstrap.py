"""One bootstrap, called explicitly by the app factory, the Celery worker, the CLI and the tests.

It wires what no import may do by side effect: every model mapped, the settings checked, logging
configured, the job sender (Celery) installed on the project's own sessionmaker, the SQLite search
index kept in sync, and the kinds of issue owned by other packages registered with the mail-out.
Calling it twice does nothing more.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contributions import directory
from core import db as database
from core import jobs
from core.logging import configure_logging
from core.settings import Settings, get_settings
from events import invitations
from newsletter import mailout
from newsletter.models import IssueKind
from parentalites import models

_done = False


def bootstrap(sender: Callable[[str, tuple, dict], Any] | None = None) -> Settings:
    """Wire the application once. `sender` hands a job to the broker; by default Celery's."""
    global _done
    settings = get_settings()
    if sender is not None:
        jobs.set_sender(sender)
    if _done:
        return settings
    assert models.MODEL_MODULES  # every mapper is defined before the first query
    configure_logging(settings)
    if sender is None:
        from parentalites.celery_app import (
            celery_app,  # the Celery app reads the settings
        )
        jobs.set_sender(lambda name, args, options: celery_app.send_task(name, args=args, **options))
    jobs.install(database.SessionFactory)
    directory.install_search_sync(database.SessionFactory)
    mailout.register_kind(IssueKind.invitation, invitations.KIND_RULES)
    _done = True
    return settings
