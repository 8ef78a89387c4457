"""Bounce polling: read the bounce mailbox (a Maildir, an IMAP folder, or both) every minute."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from core.db import session
from core.settings import get_settings
from parentalites.celery_app import celery_app
from subscribers import bounces

log = logging.getLogger(__name__)


class MailboxUnavailable(Exception):
    """A bounce mailbox could not be read: the task fails (the editors have been told once)."""


@celery_app.task(name="tasks.bounces.poll")
def poll() -> dict[str, int]:
    """Ingest BOUNCE_MAILDIR and BOUNCE_IMAP_URL when set; one failing source does not stop the
    other. Returns messages processed per source; raises MailboxUnavailable (after the other
    source is read and the problem recorded) when a source cannot be read."""
    db = session()
    done: dict[str, int] = {}
    failed: list[str] = []
    settings = get_settings()
    maildir = settings.bounce_maildir
    if maildir:
        try:
            if not (maildir / "new").is_dir():
                raise bounces.MailboxError("maildir", f"Le dossier Maildir des retours {maildir} n'existe pas "
                                                      "ou n'a pas de sous-dossier new/.")
            done["maildir"] = bounces.ingest_maildir(db, maildir)
        except OSError as exc:
            failed.append(_problem(db, "maildir", bounces.MailboxError(
                "maildir", f"Le dossier Maildir des retours {maildir} n'a pas pu être lu ({exc.strerror or exc}).")))
        except bounces.MailboxError as error:
            failed.append(_problem(db, "maildir", error))
        else:
            bounces.clear_mailbox_problem(db, "maildir")
            db.commit()
    imap_url = settings.bounce_imap_url
    if imap_url:
        try:
            done["imap"] = bounces.ingest_imap_url(db, imap_url)
        except bounces.MailboxError as error:
            failed.append(_problem(db, "imap", error))
        except ValueError as exc:
            failed.append(_problem(db, "imap", bounces.MailboxError("config", str(exc))))
        else:
            bounces.clear_mailbox_problem(db, "imap")
            db.commit()
    db.commit()  # the problems and the editors' e-mails stay, although the task fails below
    if failed:
        raise MailboxUnavailable("; ".join(failed))
    return done


def _problem(db: Session, source: str, error: bounces.MailboxError) -> str:
    db.rollback()  # what the failed source had begun; its messages' own work is committed already
    bounces.report_mailbox_problem(db, source, error)
    db.commit()
    log.error("bounce mailbox %s cannot be read (%s): %s", source, error.problem, error.detail)
    return f"{source}: {error.problem}"
