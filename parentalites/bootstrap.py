"""One bootstrap, called explicitly by the app factory, the Celery worker, the CLI and the tests.

It wires what no import may do by side effect: every model mapped, the settings checked (core's
own checks and mailing's, every bad variable at once), logging configured, the job sender (Celery)
installed on the project's own sessionmaker, the SQLite search index kept in sync, and the kinds of
issue owned by other packages registered with the mail-out, and the personal data they hold
registered with subscribers.privacy (RGPD export and erasure).
Calling it twice does nothing more.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from contributions import directory
from core import db as database
from core import jobs
from core.logging import configure_logging
from core.settings import (
    InvalidSetting,
    Settings,
    SettingsError,
    get_settings,
    read_settings,
)
from events import history as events_history
from events import invitations
from events import retention as events_retention
from mailing import config as mailing_config
from mailing import engine
from newsletter import confirmations, mailout
from newsletter import history as newsletter_history
from newsletter import personal_data as newsletter_personal_data
from newsletter.models import IssueKind
from parentalites import models
from parentalites.webhooks import services as webhooks
from subscribers import history, privacy

_done = False

# gunicorn stops when a worker exits with its APP_LOAD_ERROR (4), where any other status would have
# it start the worker again and again; the worker and the CLI use the same status.
BAD_SETTINGS_EXIT_STATUS = 4


def read_all_settings(*, create_files: bool = True) -> tuple[Settings, list[InvalidSetting]]:
    """The settings from the environment, and every bad value: core's checks, then mailing's."""
    settings, problems = read_settings(create_files=create_files)
    return settings, problems + mailing_config.settings_problems(settings)


def check_settings() -> Settings:
    """The settings, every variable checked; SettingsError naming each bad one."""
    _, problems = read_all_settings()
    if problems:
        raise SettingsError(problems)
    return get_settings()


def exit_on_bad_settings(error: SettingsError) -> NoReturn:
    """Stop the process: each bad variable in two lines (French, then English), no traceback."""
    print(error, file=sys.stderr, flush=True)
    sys.exit(BAD_SETTINGS_EXIT_STATUS)


def bootstrap(sender: Callable[[str, tuple, dict], Any] | None = None) -> Settings:
    """Wire the application once. `sender` hands a job to the broker; by default Celery's.
    Raises SettingsError when a variable has a bad value."""
    global _done
    settings = get_settings() if _done else check_settings()
    if sender is not None:
        jobs.set_sender(sender)
    if _done:
        return settings
    models.configure()  # every mapper defined and resolved before the first query
    configure_logging(settings)
    for warning in engine.settings_warnings(settings):
        logging.getLogger("parentalites").warning(warning)
    if sender is None:
        from parentalites.celery_app import (
            celery_app,  # the Celery app reads the settings
        )
        jobs.set_sender(lambda name, args, options: celery_app.send_task(name, args=args, **options))
    jobs.install(database.SessionFactory)
    directory.install_search_sync(database.SessionFactory)
    mailout.register_kind(IssueKind.invitation, invitations.KIND_RULES)
    confirmations.install()  # the mails of a subscriber import (kinds confirmation, welcome)
    # What the packages above subscribers hold about a person: in every RGPD export and erasure.
    privacy.register_personal_data("deliveries", export=newsletter_personal_data.export_deliveries)
    privacy.register_personal_data("registrations", export=events_retention.export_registrations,
                                   erase=events_retention.erase_registrations)
    history.register_source(newsletter_history.deliveries)  # a subscriber's letters and invitations
    history.register_source(events_history.registrations)   # and their event registrations
    webhooks.install()  # the domains' signals become webhook deliveries
    _done = True
    return settings
