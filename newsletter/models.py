"""Core models: accounts, and the letter (issues, their items, deliveries, the outbox)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON, Date, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.db import Base, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the value (stable, readable in SQL), checked by a CHECK constraint on both backends.
    return Enum(cls, name=name, native_enum=False, create_constraint=False, length=32,
                values_callable=lambda e: [m.value for m in e])


class Role(str, enum.Enum):
    partner = "partner"
    editor = "editor"
    admin = "admin"


class User(UserMixin, Base):
    """An account: a partner attached to a structure, an editor, or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    structure_id: Mapped[int | None] = mapped_column(ForeignKey("structures.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by an editor, by e-mail

    structure = relationship("Structure", back_populates="members")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_editor(self) -> bool:
        return self.role in (Role.editor, Role.admin)


class IssueStatus(str, enum.Enum):
    draft = "draft"
    scheduled = "scheduled"
    sending = "sending"
    paused = "paused"        # by the editor, or by itself after too many failures in a row
    sent = "sent"
    cancelled = "cancelled"  # stopped for good; what was not sent never will be


# The rubriques of the letter, in their order in an issue (DESIGN.md).
RUBRIQUES: list[tuple[str, str]] = [
    ("actualites", "Actualités du réseau"),
    ("parentalite", "Parentalité"),
    ("clas", "Accompagnement à la scolarité (CLAS)"),
    ("retour_soiree", "Retour sur une soirée du Réaap"),
    ("agenda", "Agenda"),
    ("ressources", "Ressources et publications"),
    ("appels_a_projets", "Appels à projets"),
]
RUBRIQUE_LABELS = dict(RUBRIQUES)


class Issue(Base):
    """A numéro of the letter. Once sent, its rendered HTML is frozen for the archive."""

    __tablename__ = "issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "letter": a numéro of the lettre Parentalités (archived); "invitation": an event invitation
    # sent to a segment through the same mail-out engine (no numéro, never archived).
    kind: Mapped[str] = mapped_column(String(20), default="letter", server_default="letter")
    numero: Mapped[int | None] = mapped_column(Integer, unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    segment: Mapped[dict | None] = mapped_column(JSON)  # who receives it; None = every subscriber
    title: Mapped[str] = mapped_column(String(300))
    issue_date: Mapped[date] = mapped_column(Date)
    edito_md: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[IssueStatus] = mapped_column(_enum(IssueStatus, "issue_status"), default=IssueStatus.draft)
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
        return self.status in (IssueStatus.draft, IssueStatus.scheduled)

    def items_by_rubrique(self) -> list[tuple[str, str, list[IssueItem]]]:
        """Rubriques in their fixed order, each with its items in their position order."""
        grouped: dict[str, list[IssueItem]] = {}
        for item in self.items:
            grouped.setdefault(item.rubrique, []).append(item)
        return [(slug, label, grouped[slug]) for slug, label in RUBRIQUES if slug in grouped]


class IssueItem(Base):
    """A contribution placed in a rubrique of an issue, at a position."""

    __tablename__ = "issue_items"
    __table_args__ = (UniqueConstraint("issue_id", "contribution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"))
    rubrique: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)

    issue: Mapped[Issue] = relationship(back_populates="items")
    contribution = relationship("Contribution")


class DeliveryStatus(str, enum.Enum):
    queued = "queued"
    claimed = "claimed"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"


class Delivery(Base):
    """One recipient of one issue: the ledger of the mail-out. The database is the truth;
    the broker only wakes workers up."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id"),
        Index("ix_deliveries_issue_status", "issue_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"),
                                                   default=DeliveryStatus.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(200))
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    smtp_reply: Mapped[str | None] = mapped_column(Text)

    subscriber = relationship("Subscriber")


class OutboundStatus(str, enum.Enum):
    queued = "queued"
    sent = "sent"
    failed = "failed"


class OutboundEmail(Base):
    """A single transactional e-mail (confirmation, moderation notice, test send), kept until
    sent: the outbox makes these as durable as the mail-out."""

    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(60))
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    extra_headers: Mapped[str | None] = mapped_column(Text)  # JSON object
    attachments: Mapped[list | None] = mapped_column(JSON)  # [Attachment.to_json(), …] (newsletter/mail.py)
    status: Mapped[OutboundStatus] = mapped_column(_enum(OutboundStatus, "outbound_status"),
                                                   default=OutboundStatus.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
