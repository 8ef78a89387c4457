"""Subscribers and the record of their consent."""
from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.db import enum_column as _enum


class SubscriberStatus(enum.StrEnum):
    pending = "pending"            # subscribed, confirmation link not yet followed
    active = "active"              # confirmed: receives every letter
    unsubscribed = "unsubscribed"  # left; may subscribe again
    suppressed = "suppressed"      # never mailed again (hard bounce, complaint, repeated soft bounces)


def new_token() -> str:
    return secrets.token_urlsafe(24)


# Topics a professional can pick (subscription form, preferences, segments of invitations).
TOPICS = {
    "parentalite": "Soutien à la parentalité",
    "clas": "Accompagnement à la scolarité (CLAS)",
    "petite_enfance": "Petite enfance",
    "adolescence": "Adolescence",
    "numerique": "Parents et écrans",
    "sante": "Santé",
}

# The roles a professional can declare (segments: "the CLAS referents" are role == referent_clas).
ROLES = {
    "referent_clas": "Référent·e CLAS",
    "travailleur_social": "Travailleur·se social·e",
    "animateur": "Animateur·rice",
    "enseignant": "Enseignant·e",
    "benevole": "Bénévole",
    "elu": "Élu·e",
    "autre": "Autre",
}


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (lower-case domain and local part): one row per mailbox.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    structure_name: Mapped[str] = mapped_column(String(200), default="")
    topics: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # keys of TOPICS; [] = everything
    role: Mapped[str | None] = mapped_column(String(40))       # key of ROLES
    commune: Mapped[str | None] = mapped_column(String(120))   # where they work
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus, "subscriber_status"), default=SubscriberStatus.pending)
    # Random, stored, revocable; names the subscriber in List-Unsubscribe links.
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why and when the address was suppressed (shown to the editors); see subscribers/bounces.py.
    suppressed_reason: Mapped[str | None] = mapped_column(Text)
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

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


class BounceKind(enum.StrEnum):
    hard = "hard"              # the address does not exist: suppressed at once
    soft = "soft"              # delivery failed for a passing reason (full mailbox, policy…)
    delayed = "delayed"        # still being retried by the remote server: counts for nothing
    autoreply = "autoreply"    # vacation message, challenge-response: counts for nothing
    complaint = "complaint"    # ARF abuse report: unsubscribed and suppressed
    unknown = "unknown"        # not understood: kept for the record, no effect


class Bounce(Base):
    """One bounce, complaint or auto-reply received about a letter, kept for the editors and for
    the soft-bounce count. Mapped to a subscriber through the VERP return path when it has one."""

    __tablename__ = "bounces"
    __table_args__ = (Index("ix_bounces_subscriber_received", "subscriber_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    kind: Mapped[BounceKind] = mapped_column(_enum(BounceKind, "bounce_kind"))
    email: Mapped[str | None] = mapped_column(String(254))  # the address the report names
    status_code: Mapped[str | None] = mapped_column(String(16))  # enhanced status, e.g. 5.1.1
    diagnostic: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))  # maildir, imap, webhook
    # SHA-256 of the raw message: the same message polled twice is recorded once.
    message_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriber: Mapped[Subscriber | None] = relationship()
