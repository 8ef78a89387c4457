"""Event tasks: thin wrappers over events/messages.py. Beat runs `reminders` and `after_event`
every ten minutes; `send_notices` is asked for right after an event changes. Each message is
recorded in the database before it leaves, so that a run twice, or after a restart, sends nothing
twice."""
from __future__ import annotations

from core.db import session
from events import messages
from events.models import Event
from parentalites.celery_app import celery_app

EVERY_SECONDS = 600.0


@celery_app.task(name="tasks.events.send_notices")
def send_notices(event_id: int) -> dict:
    """The update (SEQUENCE + 1) or the cancellation of one event, to everyone registered."""
    db = session()
    event = db.get(Event, event_id)
    return messages.send_event_notices(db, event).sent if event is not None else {}


@celery_app.task(name="tasks.events.reminders")
def reminders() -> dict:
    """Reminders due (J-7, J-1…), and any update or cancellation a lost message left unsent."""
    db = session()
    sent = messages.send_pending_notices(db).sent
    sent.update(messages.send_due_reminders(db).sent)
    return sent


@celery_app.task(name="tasks.events.after_event")
def after_event() -> dict:
    """Thank-yous to those marked present, and the draft « Retour sur… » contributions."""
    report = messages.after_event(session())
    return {**report.sent, "retours": report.retours}
