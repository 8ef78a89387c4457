"""Subscriber tasks: the work behind /abonnement, done by a worker for every address alike."""
from __future__ import annotations

from core.db import session
from parentalites.celery_app import celery_app
from subscribers import services


@celery_app.task(name="tasks.subscribers.subscribe")
def subscribe(address: str, name: str, structure: str, preferences: dict | None,
              ip: str | None, user_agent: str | None) -> None:
    """A subscription asked through the form (services.subscribe): a new or returning address gets
    its confirmation e-mail, a subscribed one a reminder, a suppressed one nothing. The request that
    asked cannot tell which (no address in the log context either)."""
    services.subscribe(session(), address, name, structure,
                       request=services.Request(ip=ip, user_agent=user_agent), preferences=preferences)
