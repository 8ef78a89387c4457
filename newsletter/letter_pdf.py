"""The letter as a PDF (`/lettres/<numero>.pdf`): the frozen web version of a sent letter laid out
for A4 by WeasyPrint, like the printed *lettre Parentalités* of old: a title band, the numéro and
date, the édito, the rubriques and their articles with their images.

Made once, when the letter is published (tasks.archive.make_letter_pdf, enqueued by
newsletter.mailout.finish_if_done), and kept in `letter_pdfs`. A failure never touches the send: it
is logged, and the PDF is made on its first request (`pdf_of`) or by `parentalites archive pdf`.

Images come only from the letter's own uploads, read from the database (`LetterFetcher`): no
request ever leaves the process (no SSRF through a letter), and a missing or refused image shows
its alt text instead.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from contributions.models import ContributionFile
from core.db import utcnow
from core.settings import get_settings
from mailing.templates import TEMPLATES_DIR, email_environment
from newsletter.models import Issue, LetterPdf

log = logging.getLogger(__name__)

PDF_TEMPLATES = TEMPLATES_DIR / "archive_pdf"
_FILE_PATH = re.compile(r"/fichiers/([0-9]{1,10})/?$")


def _weasyprint():
    # Imported when a PDF is made: its import loads Pango and fonts (a second), which no web
    # request nor mail-out needs. Its progress lines (one per page) are not worth the log.
    import weasyprint
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    return weasyprint


class RefusedResource(ValueError):
    """A URL the letter's PDF does not fetch (WeasyPrint then shows the image's alt text)."""


def letter_fetcher(db: Session, issue: Issue):
    """WeasyPrint's URL fetcher for one letter: `<base_url>/fichiers/<id>` of an image attached to one
    of the letter's contributions, read from the database; anything else is refused, fail-soft."""
    weasyprint = _weasyprint()
    base = get_settings().base_url.rstrip("/")
    allowed = {item.contribution_id for item in issue.items}

    class LetterFetcher(weasyprint.urls.URLFetcher):  # type: ignore[name-defined]  # (untyped)
        def __init__(self):
            super().__init__(timeout=1, allowed_protocols=(), fail_on_errors=False)

        def fetch(self, url, headers=None):
            path = url[len(base):] if url.startswith(base + "/") else None
            match = _FILE_PATH.match(path or "")
            if not match:
                raise RefusedResource(f"not fetched: {url[:200]}")
            file = db.get(ContributionFile, int(match.group(1)))
            if file is None or file.kind != "image" or file.contribution_id not in allowed:
                raise RefusedResource(f"no such image of this letter: {url[:200]}")
            return weasyprint.urls.URLFetcherResponse(url, body=file.data,
                                                      headers={"Content-Type": file.content_type})

    return LetterFetcher()


def letter_html(issue: Issue) -> str:
    """The printable page: the frozen web version inside the print template."""
    env = email_environment().overlay(loader=_pdf_loader())
    return env.get_template("letter.html").render(issue=issue, settings=get_settings(),
                                                  css=(PDF_TEMPLATES / "print.css").read_text(encoding="utf-8"))


def render_pdf(db: Session, issue: Issue) -> bytes:
    weasyprint = _weasyprint()
    document = weasyprint.HTML(string=letter_html(issue), base_url=get_settings().base_url.rstrip("/") + "/",
                               url_fetcher=letter_fetcher(db, issue))
    return document.write_pdf()


def make_letter_pdf(db: Session, issue_id: int, *, force: bool = False) -> LetterPdf | None:
    """Make and keep the PDF of a published letter (once: again only with `force`). Returns it, or
    None when the issue is not a published letter."""
    from newsletter.archive import is_published
    issue = db.get(Issue, issue_id)
    if issue is None or not is_published(issue):
        return None
    existing = db.get(LetterPdf, issue_id)
    if existing is not None and not force:
        return existing
    started = time.monotonic()
    data = render_pdf(db, issue)
    seconds = time.monotonic() - started
    pdf = existing or LetterPdf(issue_id=issue_id)
    pdf.data, pdf.sha256, pdf.size = data, hashlib.sha256(data).hexdigest(), len(data)
    pdf.made_at, pdf.seconds = utcnow(), round(seconds, 3)
    db.add(pdf)
    db.flush()
    log.info("PDF of letter n°%s made: %d bytes in %.2f s", issue.numero, len(data), seconds)
    return pdf


def pdf_of(db: Session, issue: Issue) -> LetterPdf | None:
    """The kept PDF, made now when the job that should have made it failed or never ran. None when
    it cannot be made (logged): the page then simply offers no PDF."""
    existing = db.get(LetterPdf, issue.id)
    if existing is not None:
        return existing
    try:
        with db.begin_nested():
            return make_letter_pdf(db, issue.id)
    except Exception:  # noqa: BLE001  a broken PDF never breaks the archive page
        log.exception("could not make the PDF of letter n°%s", issue.numero)
        return None


def has_pdf(db: Session, issue_id: int) -> bool:
    return db.scalar(select(LetterPdf.issue_id).where(LetterPdf.issue_id == issue_id)) is not None


def pdf_filename(issue: Issue) -> str:
    return f"lettre-parentalites-{issue.numero}.pdf"


def _pdf_loader():
    import jinja2
    return jinja2.FileSystemLoader(str(PDF_TEMPLATES))

