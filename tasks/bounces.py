"""Bounce polling: read the bounce mailbox (a Maildir, an IMAP folder, or both) every minute."""
from __future__ import annotations

import imaplib
import logging

from core.db import session
from core.settings import get_settings
from parentalites.celery_app import celery_app
from subscribers import bounces

log = logging.getLogger(__name__)


@celery_app.task(name="tasks.bounces.poll")
def poll() -> dict[str, int]:
    """Ingest BOUNCE_MAILDIR and BOUNCE_IMAP_URL when set; one failing source does not stop the
    other. Returns messages processed per source."""
    db = session()
    done: dict[str, int] = {}
    settings = get_settings()
    maildir = settings.bounce_maildir
    if maildir:
        try:
            done["maildir"] = bounces.ingest_maildir(db, maildir)
        except OSError:
            log.exception("bounce Maildir %s could not be read", maildir)
    imap_url = settings.bounce_imap_url
    if imap_url:
        try:
            done["imap"] = bounces.ingest_imap_url(db, imap_url)
        except (OSError, ValueError, imaplib.IMAP4.error):
            log.exception("bounce IMAP mailbox could not be read")
    return done
