"""What the sending layer keeps: the mail-out ledger (one delivery per recipient of an issue) and
the outbox of single transactional e-mails. The ledger names its issue and subscriber by table
(foreign keys), never by importing the layers above."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, enum_column, utcnow


class DeliveryStatus(enum.StrEnum):
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
    # NULL once the subscriber is erased (RGPD): the delivery stays, anonymised, for the statistics.
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, "delivery_status"),
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


class OutboundStatus(enum.StrEnum):
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
    status: Mapped[OutboundStatus] = mapped_column(enum_column(OutboundStatus, "outbound_status"),
                                                   default=OutboundStatus.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EmailTemplateOverride(Base):
    """An editor's text for a transactional e-mail (mailing/editable.py): the subject and the text
    body, Jinja run in a sandbox; the HTML part is made from the text. No row: the default files."""

    __tablename__ = "email_template_overrides"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)  # the folder under templates/email
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(254))  # the editor's address, as written then
