"""Structures (the partners) and their contributions, with the history of every decision."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.db import Base, UTCDateTime, utcnow
from newsletter.models import _enum


class StructureKind(str, enum.Enum):
    centre_social = "centre_social"
    evs = "evs"
    association = "association"
    ville = "ville"
    caf = "caf"
    education_nationale = "education_nationale"
    autre = "autre"


STRUCTURE_KIND_LABELS = {
    StructureKind.centre_social: "Centre social",
    StructureKind.evs: "Espace de vie sociale",
    StructureKind.association: "Association",
    StructureKind.ville: "Ville",
    StructureKind.caf: "CAF",
    StructureKind.education_nationale: "Éducation nationale",
    StructureKind.autre: "Autre",
}


class Structure(Base):
    __tablename__ = "structures"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[StructureKind] = mapped_column(_enum(StructureKind, "structure_kind"))
    commune: Mapped[str] = mapped_column(String(120), default="")
    departement: Mapped[str] = mapped_column(String(80), default="")
    website: Mapped[str | None] = mapped_column(String(500))
    feed_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members = relationship("User", back_populates="structure")


class ContributionKind(str, enum.Enum):
    actualite = "actualite"
    evenement = "evenement"


KIND_LABELS = {ContributionKind.actualite: "Actualité", ContributionKind.evenement: "Événement"}


class ContributionStatus(str, enum.Enum):
    draft = "draft"
    submitted = "submitted"
    changes_requested = "changes_requested"
    accepted = "accepted"
    published = "published"
    rejected = "rejected"
    withdrawn = "withdrawn"


STATUS_LABELS = {
    ContributionStatus.draft: "Brouillon",
    ContributionStatus.submitted: "En attente de relecture",
    ContributionStatus.changes_requested: "Modifications demandées",
    ContributionStatus.accepted: "Acceptée",
    ContributionStatus.published: "Publiée",
    ContributionStatus.rejected: "Refusée",
    ContributionStatus.withdrawn: "Retirée",
}


class Contribution(Base):
    """A submission by a partner: news or an event (fiches action, resources and calls for
    projects are later kinds). Text is Markdown, always rendered through the sanitizer."""

    __tablename__ = "contributions"
    __table_args__ = (Index("ix_contributions_status_submitted", "status", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structures.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[ContributionKind] = mapped_column(_enum(ContributionKind, "contribution_kind"))
    status: Mapped[ContributionStatus] = mapped_column(
        _enum(ContributionStatus, "contribution_status"), default=ContributionStatus.draft)
    title: Mapped[str] = mapped_column(String(300))
    body_md: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(1000))
    event_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20), default="partner")  # partner, feed, import
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    structure: Mapped[Structure] = relationship()
    author = relationship("User")
    transitions: Mapped[list[ContributionTransition]] = relationship(
        back_populates="contribution", order_by="ContributionTransition.id",
        cascade="all, delete-orphan")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def last_comment(self) -> str | None:
        for transition in reversed(self.transitions):
            if transition.comment:
                return transition.comment
        return None


class ContributionTransition(Base):
    """One step of the moderation workflow: who moved the contribution where, when, and why."""

    __tablename__ = "contribution_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contribution: Mapped[Contribution] = relationship(back_populates="transitions")
    actor = relationship("User")
