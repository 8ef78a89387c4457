"""Subscribers and the record of their consent."""
from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.db import Base, UTCDateTime, utcnow
from newsletter.models import _enum


class SubscriberStatus(str, enum.Enum):
    pending = "pending"            # subscribed, confirmation link not yet followed
    active = "active"              # confirmed: receives every letter
    unsubscribed = "unsubscribed"  # left; may subscribe again
    suppressed = "suppressed"      # never mailed again (hard bounce, complaint: later issue)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (lower-case domain and local part): one row per mailbox.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    structure_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus, "subscriber_status"), default=SubscriberStatus.pending)
    # Random, stored, revocable; names the subscriber in List-Unsubscribe links.
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="subscriber", order_by="ConsentRecord.id", cascade="all, delete-orphan")


class ConsentRecord(Base):
    """Proof of consent and of its withdrawal (RGPD): what was shown, when, from where."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))  # subscribe, confirm, unsubscribe
    wording: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")
