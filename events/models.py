"""Network events and the registrations to them (issue 4).

Times are stored in UTC and entered and shown in Europe/Paris. The capacity counts people (the sum
of `party_size` of the confirmed registrations), not rows; `None` means unlimited.
"""
from __future__ import annotations

import enum
import secrets
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.db import enum_column as _enum
from core.settings import get_settings


class EventType(enum.StrEnum):
    soiree_reaap = "soiree_reaap"
    journee_porteurs = "journee_porteurs"
    rencontre_clas = "rencontre_clas"
    formation = "formation"
    autre = "autre"


class EventStatus(enum.StrEnum):
    scheduled = "scheduled"
    full = "full"            # closed by the editor; an event is also full when its seats are taken
    postponed = "postponed"
    cancelled = "cancelled"


def new_event_uid() -> str:
    # Stable for the life of the event: calendars match updates and cancellations on it.
    return f"{uuid.uuid4()}@{get_settings().mail_domain}"


def new_registration_token() -> str:
    return secrets.token_urlsafe(24)


# An anonymised registration (erasure, retention: events/retention.py) keeps its counts and gets an
# address in this reserved domain (RFC 2606), which is never mailed.
ANONYMOUS_DOMAIN = "anonyme.invalid"


class Event(Base):
    """A network event: soirée-rencontre du Réaap, journée des porteurs de projet, rencontre des
    référents CLAS, formation…"""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(200), unique=True, default=new_event_uid)
    type: Mapped[EventType] = mapped_column(_enum(EventType, "event_type"), default=EventType.autre)
    title: Mapped[str] = mapped_column(String(300))
    description_md: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    access_info: Mapped[str] = mapped_column(Text, default="")          # transport, how to find it
    accessibility_info: Mapped[str] = mapped_column(Text, default="")   # step-free access, hearing loop…
    online_url: Mapped[str | None] = mapped_column(String(1000))
    capacity: Mapped[int | None] = mapped_column(Integer)  # people; None = unlimited
    # People per registration; None = the setting EVENT_MAX_PARTY_SIZE.
    max_party_size: Mapped[int | None] = mapped_column(Integer)
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus, "event_status"),
                                                default=EventStatus.scheduled)
    organiser: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    # Who the event is for: None = everyone, else {"topics": [...], "roles": [...]}
    # (subscribers/segments.py reads the same shape for invitations).
    audience: Mapped[dict | None] = mapped_column(JSON)
    # Days before the start when registrants get a reminder ("7,1" = J-7 and J-1; "" = none).
    reminder_days: Mapped[str] = mapped_column(String(40), default="7,1", server_default="7,1")
    survey_url: Mapped[str | None] = mapped_column(String(1000))  # sent with the thank-you
    thanks_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The draft "Retour sur la soirée…" created after the event, for the next letter.
    retour_contribution_id: Mapped[int | None] = mapped_column(
        ForeignKey("contributions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    registrations: Mapped[list[Registration]] = relationship(
        back_populates="event", order_by="Registration.position", cascade="all, delete-orphan")

    @property
    def is_cancelled(self) -> bool:
        return self.status is EventStatus.cancelled


class RegistrationStatus(enum.StrEnum):
    # Made by the public form: holds no seat and gets no invitation until the link e-mailed to
    # the address is followed (events.services.confirm_address).
    unconfirmed = "unconfirmed"
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    cancelled = "cancelled"


class Registration(Base):
    """One person (and those coming with them) registered to an event."""

    __tablename__ = "registrations"
    __table_args__ = (
        # One live registration per address and event; a cancelled one does not block a new one.
        Index("uq_registrations_event_email_active", "event_id", "email", unique=True,
              postgresql_where=text("status != 'cancelled'"),
              sqlite_where=text("status != 'cancelled'")),
        Index("ix_registrations_event_status_position", "event_id", "status", "position"),
        CheckConstraint("party_size >= 1", name="party_size_positive"),
    )

    # Set by `services.register` on a registration that already existed (not stored).
    already_registered = False

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    structure: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    accessibility_needs: Mapped[str] = mapped_column(Text, default="")
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[RegistrationStatus] = mapped_column(
        _enum(RegistrationStatus, "registration_status"), default=RegistrationStatus.confirmed)
    position: Mapped[int] = mapped_column(Integer)  # order of arrival within the event (0 until confirmed)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_registration_token)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The consent text accepted (subscribers/consent.py, purpose "registration"): its version names
    # the exact words.
    consent_version_id: Mapped[int | None] = mapped_column(ForeignKey("consent_versions.id"))
    address_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the e-mailed link followed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attended: Mapped[bool | None] = mapped_column(Boolean)  # None until the editor marks it
    attended_marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(back_populates="registrations")
    messages: Mapped[list[RegistrationMessage]] = relationship(
        back_populates="registration", cascade="all, delete-orphan")


class RegistrationMessage(Base):
    """A scheduled message sent to a registration (reminder J-7, J-1, thank-you, ICS update…),
    recorded in the database so that it goes out exactly once whatever beat or the workers do:
    the row is inserted in the same transaction as the outbox e-mail, unique on (registration, kind)."""

    __tablename__ = "registration_messages"
    __table_args__ = (UniqueConstraint("registration_id", "kind", name="uq_registration_message"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # reminder:7, reminder:1, thanks, update:<seq>, cancel
    outbound_email_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_emails.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[Registration] = relationship(back_populates="messages")
