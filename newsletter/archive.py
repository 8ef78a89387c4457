"""The public archive: every sent letter as it was sent, as web pages, an Atom feed, and a static
site (`parentalites archive export DIR`) for any web host."""
from __future__ import annotations

import shutil
from datetime import UTC, datetime, time
from pathlib import Path

from feedgen.feed import FeedGenerator
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import site_settings, urls
from core.settings import get_settings
from mailing.templates import TEMPLATES_DIR, email_environment
from newsletter.models import Issue, IssueKind, IssueStatus

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"  # the site's own stylesheet


def published_issues(db: Session) -> list[Issue]:
    # Letters only: an invitation goes through the same mail-out but is never archived.
    return list(db.scalars(select(Issue).where(Issue.kind == IssueKind.letter, Issue.status == IssueStatus.sent,
                                               Issue.published_at.isnot(None))
                           .order_by(Issue.numero.desc())))


def is_published(issue: Issue) -> bool:
    return (issue.kind == IssueKind.letter and issue.status == IssueStatus.sent and issue.published_at is not None
            and issue.numero is not None)


def last_published_at(issues: list[Issue]) -> datetime | None:
    return max((i.published_at for i in issues if i.published_at is not None), default=None)


def published_version(db: Session, numero: int) -> tuple[int, datetime] | None:
    """(id, published_at) of a published letter, without loading its frozen HTML: enough to answer
    a conditional GET."""
    row = db.execute(select(Issue.id, Issue.published_at).where(
        Issue.kind == IssueKind.letter, Issue.numero == numero, Issue.status == IssueStatus.sent,
        Issue.published_at.isnot(None))).first()
    return (row.id, row.published_at) if row is not None else None


def published_issue(db: Session, numero: int) -> Issue | None:
    return db.scalar(select(Issue).where(Issue.kind == IssueKind.letter, Issue.numero == numero,
                                         Issue.status == IssueStatus.sent,
                                         Issue.published_at.isnot(None)))


def atom_feed(issues: list[Issue], link_for=None) -> bytes:
    """A valid Atom feed of the letters, newest first. `link_for(issue)` gives each entry's URL."""
    link_for = link_for or (lambda issue: urls.absolute(urls.letter_path(issue.numero)))
    feed = FeedGenerator()
    feed.id(urls.absolute("/lettres/"))
    feed.title("La lettre Parentalités")
    feed.subtitle("Les numéros de la lettre du Réaap et du réseau CLAS")
    feed.language("fr")
    feed.author({"name": "Lettre Parentalités", "email": site_settings.current().mail_from_address})
    feed.link(href=urls.absolute("/lettres/"), rel="alternate")
    feed.link(href=urls.absolute("/lettres/feed.atom"), rel="self")
    updated = max((i.published_at for i in issues if i.published_at is not None),  # all are: published
                  default=datetime(2020, 1, 1, tzinfo=UTC))
    feed.updated(updated)
    for issue in reversed(issues):  # feedgen prepends: add oldest first to list newest first
        assert issue.numero is not None  # a published letter
        entry = feed.add_entry()
        entry.id(urls.absolute(urls.letter_path(issue.numero)))
        entry.title(f"Lettre Parentalités n°{issue.numero} : {issue.title}")
        entry.link(href=link_for(issue), rel="alternate")
        entry.published(datetime.combine(issue.issue_date, time(8, 0), tzinfo=UTC))
        entry.updated(issue.published_at)
        entry.summary(issue.archive_summary or issue.title)
        entry.content(issue.archive_html or "", type="html")
    return feed.atom_str(pretty=True)


def export_static(db: Session, directory: Path) -> list[Path]:
    """Write the archive as a static site: index.html, one folder per letter, each letter's PDF
    (`<numero>.pdf`, beside its folder as on the site; made now if its job never ran), feed.atom."""
    from newsletter import letter_pdf
    directory.mkdir(parents=True, exist_ok=True)
    env = email_environment().overlay(loader=_static_loader())
    issues = published_issues(db)
    written: list[Path] = []

    def write(relative: str, content: str | bytes) -> None:
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        written.append(path)

    pdfs = {issue.id: letter_pdf.pdf_of(db, issue) for issue in issues}
    write("index.html", env.get_template("index.html").render(issues=issues, settings=get_settings(), pdfs=pdfs))
    for issue in issues:
        pdf = pdfs[issue.id]
        if pdf is not None:
            write(f"{issue.numero}.pdf", pdf.data)
        write(f"{issue.numero}/index.html",
              env.get_template("letter.html").render(issue=issue, settings=get_settings(), pdf=pdf))
        write(f"{issue.numero}/email.html", issue.archive_email_html or "")
    write("feed.atom", atom_feed(issues))
    for name in ("site.css", "favicon.svg"):
        shutil.copyfile(STATIC_DIR / name, directory / name)
        written.append(directory / name)
    return written


def _static_loader():
    import jinja2
    return jinja2.FileSystemLoader(str(TEMPLATES_DIR / "archive_static"))
