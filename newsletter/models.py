"""The letter: issues (numéros and invitations), their items, and the editorial calendar."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from contributions import rubriques
from contributions.fulltext import _pg_document
from core.db import Base, UTCDateTime, enum_column, utcnow


class IssueKind(enum.StrEnum):
    """A numéro of the lettre Parentalités (archived, numbered), or an event invitation sent to a
    segment through the same mail-out engine (no numéro, never archived; events/invitations.py)."""
    letter = "letter"
    invitation = "invitation"
    # Mails to the people a subscriber import brought in, through the same engine (throttled,
    # batched), never archived, no numéro (newsletter/confirmations.py).
    confirmation = "confirmation"  # "please confirm": rows with no consent nor legitimate interest
    welcome = "welcome"            # the welcome mail to professionals imported on legitimate interest


class IssueStatus(enum.StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    sending = "sending"
    paused = "paused"        # by the editor, or by itself after too many failures in a row
    sent = "sent"
    cancelled = "cancelled"  # stopped for good; what was not sent never will be


class Issue(Base):
    """A numéro of the letter. Once sent, its rendered HTML is frozen for the archive."""

    __tablename__ = "issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IssueKind] = mapped_column(
        Enum(IssueKind, name="issue_kind", native_enum=False, create_constraint=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=IssueKind.letter, server_default=IssueKind.letter.value)
    numero: Mapped[int | None] = mapped_column(Integer, unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    segment: Mapped[dict | None] = mapped_column(JSON)  # who receives it; None = every subscriber
    title: Mapped[str] = mapped_column(String(300))
    issue_date: Mapped[date] = mapped_column(Date)
    edito_md: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[IssueStatus] = mapped_column(enum_column(IssueStatus, "issue_status"), default=IssueStatus.draft)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Compiled once when the mail-out starts: MJML → HTML, with personalisation slots left in.
    subject: Mapped[str | None] = mapped_column(String(300))
    compiled_html: Mapped[str | None] = mapped_column(Text)
    compiled_text: Mapped[str | None] = mapped_column(Text)
    compiled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the mail-out could not start (an MJML error…) or paused itself, shown to the editor.
    send_error: Mapped[str | None] = mapped_column(Text)
    # Touched by every batch; the sweeper wakes workers up only when it grows old.
    mailout_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The archive: frozen at compile time, so later template changes never alter a past letter.
    archive_html: Mapped[str | None] = mapped_column(Text)
    archive_email_html: Mapped[str | None] = mapped_column(Text)
    archive_summary: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[IssueItem]] = relationship(
        back_populates="issue", order_by="IssueItem.position", cascade="all, delete-orphan")

    @property
    def is_editable(self) -> bool:
        return self.status is IssueStatus.draft or (self.status is IssueStatus.scheduled and not self.is_starting)

    @property
    def is_starting(self) -> bool:
        """Sending was asked for and is due: a worker is about to start it (the page shows it as
        being sent, not as programmed)."""
        return (self.status is IssueStatus.scheduled and self.scheduled_at is not None
                and self.scheduled_at <= utcnow())

    def items_by_rubrique(self) -> list[tuple[str, str, list[IssueItem]]]:
        """Rubriques in their order (set by the admin), each with its items in their position order."""
        grouped: dict[str, list[IssueItem]] = {}
        for item in self.items:
            grouped.setdefault(item.rubrique, []).append(item)
        db = object_session(self)
        ordered = rubriques.choices(db) if db is not None else list(rubriques.RUBRIQUES)
        known = {slug for slug, _ in ordered}
        ordered += [(slug, slug) for slug in grouped if slug not in known]  # never drop an item
        return [(slug, label, grouped[slug]) for slug, label in ordered if slug in grouped]


class IssueItem(Base):
    """A contribution, or a network event (the Agenda: newsletter/agenda.py), placed in a rubrique
    of an issue, at a position."""

    __tablename__ = "issue_items"
    __table_args__ = (
        UniqueConstraint("issue_id", "contribution_id"),
        UniqueConstraint("issue_id", "event_id", name="uq_issue_items_issue_id_event_id"),
        CheckConstraint("(contribution_id IS NULL) != (event_id IS NULL)", name="one_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    contribution_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id"))
    # A network event (events/), named by its table only: the letter does not import events.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    rubrique: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)

    issue: Mapped[Issue] = relationship(back_populates="items")
    contribution = relationship("Contribution")

    # Not stored: the event's entry (newsletter.agenda.AgendaEntry), read when the letter renders.
    __allow_unmapped__ = True
    agenda: Any = None

    @property
    def title(self) -> str:
        if self.contribution is not None:
            return self.contribution.title
        return self.agenda.title if self.agenda is not None else f"Événement n°{self.event_id}"


class PlannedIssue(Base):
    """The editorial calendar: a letter planned for a date, with its contribution deadline. Beat
    sends the appel à contributions N days before the deadline and reminds the editors; each is
    recorded here so it goes out once."""

    __tablename__ = "planned_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_date: Mapped[date] = mapped_column(Date, unique=True)
    deadline: Mapped[date] = mapped_column(Date)
    call_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    editors_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LetterArticle(Base):
    """One article of a sent letter as the archive froze it (read back from `Issue.archive_html`,
    never from the contribution, which may change later): what the archive search finds
    (newsletter/archive_search.py). The édito is an article too."""

    __tablename__ = "letter_articles"
    __table_args__ = (UniqueConstraint("issue_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    anchor: Mapped[str | None] = mapped_column(String(80))  # the article's id in the page, when it has one
    rubrique: Mapped[str] = mapped_column(String(120), default="")
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")


class LetterPdf(Base):
    """The letter laid out for A4, made once when it is sent (newsletter/letter_pdf.py) and kept
    with the archive, so that every process serves the same bytes (and the same ETag)."""

    __tablename__ = "letter_pdfs"

    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seconds: Mapped[float | None] = mapped_column(Float)  # how long WeasyPrint took, for the record


# The archive search on PostgreSQL: a GIN index over the same accent-folded French document as the
# directory's (contributions/fulltext.py); created by the migration 0014_archive. SQLite: an FTS5
# table `letter_search` written by newsletter/archive_search.py.
Index("ix_letter_articles_search_fr", text(_pg_document(["title", "body"], "")), postgresql_using="gin",
      _table=cast(Table, LetterArticle.__table__)).ddl_if(dialect="postgresql")
