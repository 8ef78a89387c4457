"""The Celery app. Redis in production; by default kombu's SQLAlchemy transport on a SQLite file
in the data directory, so the demo runs a real worker with no server (never eager mode)."""
from __future__ import annotations

from celery import Celery
from celery.signals import task_postrun, worker_process_init

from newsletter import all_models  # noqa: F401  (every mapper, whichever task runs first)
from newsletter import db as database, jobs
from newsletter.settings import get_settings

# Beat's periodic work: everything here can be re-derived from the database, so a lost message
# only delays, never loses.
SWEEP_EVERY_SECONDS = 15.0


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery("parentalites", broker=settings.celery_broker_url,
                 include=["tasks.mailout", "tasks.mail", "tasks.bounces", "tasks.events", "tasks.feeds", "tasks.calendar"])
    app.conf.update(
        task_default_queue=settings.celery_queue,
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
        },
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    )
    return app


celery_app = make_celery()
jobs.set_sender(lambda name, args, options: celery_app.send_task(name, args=args, **options))


@worker_process_init.connect
def _fresh_engine_after_fork(**_):
    # A forked child must not reuse the parent's database connections.
    database.reset_engine()


@task_postrun.connect
def _close_session(**_):
    database.session.remove()
