"""The Celery app. Redis in production; by default kombu's SQLAlchemy transport on a SQLite file
in the data directory, so the demo runs a real worker with no server (never eager mode).

Every task is a `UnitOfWorkTask`: one transaction per run, committed when the task returns.

Three queues, named from CELERY_QUEUE (`<base>`, `<base>.poll`, `<base>.housekeeping`): sending
(mail-outs, transactional e-mails), polling (the bounce mailbox, the partners' feeds) and
housekeeping (beat's sweeps and reminders). A worker started with `--queues send` is never held up
by a mailbox that does not answer. Every task has a soft and a hard time limit (TASK_FAMILIES)."""
from __future__ import annotations

from collections.abc import Iterable

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init
from kombu import Queue

from core import db as database
from core.logging import bind_context, reset_context
from core.settings import SettingsError, get_settings

# Beat's periodic work: everything here can be re-derived from the database, so a lost message
# only delays, never loses.
SWEEP_EVERY_SECONDS = 15.0

# Queue family -> suffix of the queue name after CELERY_QUEUE.
QUEUE_FAMILIES = {"send": "", "poll": ".poll", "housekeeping": ".housekeeping"}
# Task -> (queue family, soft time limit, hard time limit), in seconds. The soft limit raises
# SoftTimeLimitExceeded in the task (its transaction is rolled back); the hard one kills the process.
# A mail-out batch stops well before MAILOUT_STALE_AFTER (300 s by default) hands its rows to another.
TASK_FAMILIES: dict[str, tuple[str, int, int]] = {
    "tasks.mailout.start_mailout": ("send", 120, 150),
    "tasks.mailout.send_batch": ("send", 240, 280),
    "tasks.mail.send_outbound": ("send", 60, 90),
    "tasks.accounts.send_login_link": ("send", 60, 90),  # the account looked up by the worker (same answer)
    "tasks.subscribers.subscribe": ("send", 60, 90),     # the subscriber looked up by the worker (same answer)
    "tasks.events.send_notices": ("send", 240, 280),
    "tasks.bounces.poll": ("poll", 150, 180),          # IMAP: 30 s per operation (BOUNCE_IMAP_TIMEOUT)
    "tasks.feeds.poll_feeds": ("poll", 60, 90),
    "tasks.feeds.poll_structure": ("poll", 90, 120),   # a feed: 60 s for the whole download
    "tasks.mailout.sweep": ("housekeeping", 60, 90),
    "tasks.mail.sweep_outbox": ("housekeeping", 60, 90),
    "tasks.events.reminders": ("housekeeping", 300, 360),
    "tasks.events.after_event": ("housekeeping", 300, 360),
    "tasks.calendar.send_due_calls": ("housekeeping", 300, 360),
    "tasks.retention.purge": ("housekeeping", 600, 660),  # daily; erasures go one by one
    # One POST (WEBHOOK_TIMEOUT, 10 s by default, to connect and between two reads): never long.
    "tasks.webhooks.deliver": ("housekeeping", 60, 90),
    "tasks.webhooks.sweep": ("housekeeping", 60, 90),
}
DEFAULT_TIME_LIMITS = (300, 360)  # a task not listed above: on the sending queue, with these limits


def queue_name(family: str, base: str | None = None) -> str:
    return (base or get_settings().celery_queue) + QUEUE_FAMILIES[family]


def queue_names(families: Iterable[str], base: str | None = None) -> list[str]:
    return [queue_name(family, base) for family in families]


class UnitOfWorkTask(Task):
    """A task's one transaction on the thread's session (`core.db.session`): committed when the
    task returns (the jobs it enqueued leave then, core.jobs), rolled back when it raises (a retry
    included), and the session removed either way. The wrappers in tasks/ only call a service."""

    def __call__(self, *args, **kwargs):
        # Not Task.__call__: the worker has pushed this run's request (retries, id) already.
        database.get_engine()
        try:
            result = self.run(*args, **kwargs)
        except BaseException:
            database.session.rollback()
            raise
        else:
            database.session.commit()  # the task's one COMMIT: its jobs leave now
            return result
        finally:
            database.session.remove()


def make_celery() -> Celery[UnitOfWorkTask]:
    settings = get_settings()
    app = Celery("parentalites", broker=settings.celery_broker_url, task_cls=UnitOfWorkTask,
                 include=["tasks.mailout", "tasks.mail", "tasks.accounts", "tasks.bounces", "tasks.events",
                          "tasks.feeds", "tasks.calendar", "tasks.retention", "tasks.subscribers",
                          "tasks.webhooks"])
    base = settings.celery_queue

    def route(name: str, *_args, **_kwargs) -> dict[str, str]:
        return {"queue": queue_name(TASK_FAMILIES.get(name, ("send",))[0], base)}

    app.conf.update(
        task_default_queue=base,
        task_queues=[Queue(name) for name in queue_names(QUEUE_FAMILIES, base)],
        task_routes=(route,),
        task_soft_time_limit=DEFAULT_TIME_LIMITS[0],
        task_time_limit=DEFAULT_TIME_LIMITS[1],
        task_annotations={name: {"soft_time_limit": soft, "time_limit": hard}
                          for name, (_, soft, hard) in TASK_FAMILIES.items()},
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,               # a task killed with its worker is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # Redis redelivers an unacknowledged task after this; every retry delay stays far below.
        # (The SQLAlchemy transport hands these options to create_engine, so only Redis gets them.)
        broker_transport_options=({"visibility_timeout": 3600}
                                  if settings.celery_broker_url.startswith("redis") else {}),
        timezone="Europe/Paris",
        enable_utc=True,
        beat_schedule={
            "mailout-sweep": {"task": "tasks.mailout.sweep", "schedule": SWEEP_EVERY_SECONDS},
            "outbox-sweep": {"task": "tasks.mail.sweep_outbox", "schedule": 60.0},
            "bounces-poll": {"task": "tasks.bounces.poll", "schedule": 60.0},
            "events-reminders": {"task": "tasks.events.reminders", "schedule": 600.0},
            "events-after": {"task": "tasks.events.after_event", "schedule": 600.0},
            "feeds-poll": {"task": "tasks.feeds.poll_feeds", "schedule": settings.feed_poll_minutes * 60.0},
            "calendar-calls": {"task": "tasks.calendar.send_due_calls", "schedule": 3600.0},
            # RGPD retention (subscribers/retention.py, events/retention.py): once a day.
            "retention-purge": {"task": "tasks.retention.purge", "schedule": 24 * 3600.0},
            "webhooks-sweep": {"task": "tasks.webhooks.sweep", "schedule": 300.0},
        },
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    )
    return app


celery_app = make_celery()


@worker_init.connect
def _bootstrap_worker(**_):
    # The worker's one bootstrap (the forked pool inherits it), however it was started. Celery
    # logs and ignores a signal handler's exception: a bad setting must stop the worker itself.
    from parentalites.bootstrap import bootstrap, exit_on_bad_settings
    try:
        bootstrap()
    except SettingsError as error:
        exit_on_bad_settings(error)


@worker_process_init.connect
def _fresh_engine_after_fork(**_):
    # A forked child must not reuse the parent's database connections.
    database.reset_engine()


@task_postrun.connect
def _unbind_log_context(task_id=None, **_):
    token = _log_tokens.pop(task_id, None)
    if token is not None:
        reset_context(token)


# What the first argument of a task names, by task module: every log line of the task says it.
TASK_SUBJECT = {"tasks.mailout": "issue", "tasks.events": "event", "tasks.mail": "outbound",
                "tasks.feeds": "structure"}
_log_tokens: dict[str, object] = {}


@task_prerun.connect
def _bind_log_context(task_id=None, task=None, args=None, **_):
    subject = TASK_SUBJECT.get(task.name.rpartition(".")[0]) if task else None
    values = {"task": task.name if task else None}
    if subject and args:
        values[subject] = args[0]
    _log_tokens[task_id] = bind_context(**values)
