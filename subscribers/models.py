"""Subscribers and the record of their consent."""
from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class LegalBasis(enum.StrEnum):
    """Why the network may write to this person (RGPD art. 6)."""
    consent = "consent"                          # double opt-in, or a consent proof brought by an import
    legitimate_interest = "legitimate_interest"  # a professional of the network, informed, with an easy opt-out


LEGAL_BASIS_LABELS = {
    LegalBasis.consent: "Consentement",
    LegalBasis.legitimate_interest: "Intérêt légitime",
}


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        # The editors' list (subscribers/directory.py): counts per status, the département and
        # commune filters, answered from the indexes alone (migration 0012_subs_admin).
        Index("ix_subscribers_status", "status"),
        Index("ix_subscribers_departement_status", "departement", "status"),
        Index("ix_subscribers_commune_status", "commune", "status"),
        # The statistics page's counts (parentalites/statistics/figures.py), from the index alone on
        # PostgreSQL: every column they read is in it (migration 0015_statsperf).
        Index("ix_subscribers_statistics", "status", "created_at",
              postgresql_include=["confirmed_at", "unsubscribed_at", "suppressed_at", "role", "departement",
                                  "commune", "topics"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (lower-case domain and local part): one row per mailbox.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    structure_name: Mapped[str] = mapped_column(String(200), default="")
    topics: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # keys of TOPICS; [] = everything
    role: Mapped[str | None] = mapped_column(String(40))       # key of ROLES
    commune: Mapped[str | None] = mapped_column(String(120))   # where they work
    departement: Mapped[str | None] = mapped_column(String(3))  # code of the département: "93", "2A", "971"
    legal_basis: Mapped[LegalBasis | None] = mapped_column(_enum(LegalBasis, "legal_basis"))
    # Where the record came from: "formulaire", "import:<file name>", "editeur"…
    source: Mapped[str | None] = mapped_column(String(200))
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
    # Retention (subscribers/retention.py): the last sign of life (confirmation, preferences saved,
    # a registration, a re-consent click; opens are never tracked), and when the re-permission
    # e-mail went out.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repermission_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="subscriber", order_by="ConsentRecord.id", cascade="all, delete-orphan")


# The key of an unsubscribe proof's `details` naming the issue whose link was used (the statistics
# count unsubscribes per letter with it; subscribers/services.py writes it).
UNSUBSCRIBED_FROM_ISSUE = "issue_id"


class ConsentRecord(Base):
    """Proof of consent and of its withdrawal (RGPD): what was shown, when, from where."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))  # subscribe, confirm, unsubscribe, import, reconsent
    wording: Mapped[str | None] = mapped_column(Text)  # the exact text shown (copied from the version)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("consent_versions.id"))
    # "formulaire", "import", "editeur"…, and what goes with it (file name, editor's address).
    source: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")
    version: Mapped[ConsentVersion | None] = relationship()


class ConsentVersion(Base):
    """One wording of a consent text, as shown. The text lives in one place
    (subscribers/consent.py); a changed text gets a new row, so every proof names what was shown."""

    __tablename__ = "consent_versions"
    __table_args__ = (UniqueConstraint("purpose", "text_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))  # "newsletter", "registration"…
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the text
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriberEvent(Base):
    """The subscriber's history as the editors see it: subscribed, confirmed, preferences changed,
    edited, unsubscribed, suppressed, suppression lifted, imported… (deliveries, bounces and
    registrations are read from their own tables)."""

    __tablename__ = "subscriber_events"
    __table_args__ = (Index("ix_subscriber_events_subscriber_at", "subscriber_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)  # French, shown as is
    actor: Mapped[str | None] = mapped_column(String(254))  # the editor's address; None: the subscriber or the system
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressedHash(Base):
    """What stays of an erased address that must never be mailed again (hard bounce, complaint):
    a keyed hash (HMAC-SHA-256), never the address."""

    __tablename__ = "suppressed_hashes"

    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(40))  # hard_bounce, complaint
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PrivacyRequest(Base):
    """An RGPD request carried out (export or erasure), by the person or by an editor for a
    request received by mail: who, when, never whose address (a keyed hash)."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))        # export, erase
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    actor: Mapped[str | None] = mapped_column(String(254))  # the editor's address; None: the person themself
    channel: Mapped[str] = mapped_column(String(20))     # web (self-service), mail (request to the editors)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriberImport(Base):
    """One CSV import: uploaded (preview), then confirmed (done). The file stays under the data
    directory between the two steps; the counts are what the preview and the result showed."""

    __tablename__ = "subscriber_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    filename: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), default="preview")  # preview, done, abandoned
    counts: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    # SET NULL: an erased subscriber's bounces stay, anonymised, for the statistics.
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    kind: Mapped[BounceKind] = mapped_column(_enum(BounceKind, "bounce_kind"))
    email: Mapped[str | None] = mapped_column(String(254))  # the address the report names
    status_code: Mapped[str | None] = mapped_column(String(16))  # enhanced status, e.g. 5.1.1
    diagnostic: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))  # maildir, imap, webhook
    # SHA-256 of the raw message: the same message polled twice is recorded once.
    message_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rule: Mapped[str | None] = mapped_column(String(32))  # which rule classified it (mailing.dsn.RULES)
    # Why this report changed nobody although it is a failure (no valid VERP, names other addresses).
    ignored_reason: Mapped[str | None] = mapped_column(String(200))

    subscriber: Mapped[Subscriber | None] = relationship()


class BounceMessage(Base):
    """A message of a bounce mailbox while it is being read: each attempt is counted before the
    parse, so that a message that fails (or kills its worker) twice is set aside in quarantine,
    shown to the editors, and never parsed again. Deleted once the message is recorded."""

    __tablename__ = "bounce_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(32))          # maildir, imap
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailboxProblem(Base):
    """A bounce mailbox that cannot be read (wrong password, missing folder, unreachable): told to
    the editors once, shown on the bounces page, deleted when a poll succeeds again."""

    __tablename__ = "bounce_mailbox_problems"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)  # imap, maildir
    problem: Mapped[str] = mapped_column(String(32))                   # login, folder, tls, network, timeout
    detail: Mapped[str] = mapped_column(Text)                          # French, for the editors
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
