"""The archive's work after a letter is sent: index its articles for the search, make its PDF.
Each its own task (and transaction), so that neither can undo or hold up the send; both are
idempotent, and the archive does either on demand when its job was lost or failed."""
from __future__ import annotations

from core.db import session
from newsletter import archive_search, letter_pdf
from newsletter.models import Issue
from parentalites.celery_app import celery_app


@celery_app.task(name="tasks.archive.index_letter")
def index_letter(issue_id: int) -> int:
    issue = session().get(Issue, issue_id)
    return archive_search.index_letter(session(), issue) if issue is not None else 0


@celery_app.task(name="tasks.archive.make_letter_pdf")
def make_letter_pdf(issue_id: int) -> int:
    """Not retried: a letter WeasyPrint cannot lay out fails the same way again; the first request
    of `/lettres/<n>.pdf` or `parentalites archive pdf` tries again (the error is in the log)."""
    pdf = letter_pdf.make_letter_pdf(session(), issue_id)
    return pdf.size if pdf is not None else 0
