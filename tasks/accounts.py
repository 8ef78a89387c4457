"""Account tasks: the work behind /connexion/lien, done by a worker for every address alike."""
from __future__ import annotations

from accounts import auth
from core.db import session
from parentalites.celery_app import celery_app


@celery_app.task(name="tasks.accounts.send_login_link")
def send_login_link(address: str) -> None:
    """An account's login link, or nothing: the request that asked cannot tell which (no address
    in the log context either)."""
    auth.send_login_link(session(), address)
