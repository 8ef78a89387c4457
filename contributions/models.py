"""Structures (the partners) and their contributions, with the history of every decision."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow
from core.db import enum_column as _enum


# Not a StrEnum, whose str() is the value: StructureForm(obj=structure) coerces the member with str()
# ("StructureKind.caf"), which decides whether an edit POSTed without `kind` is refused (structure_views.edit).
class StructureKind(str, enum.Enum):  # noqa: UP042
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
    # Feed polling state (contributions/feeds.py): conditional GET validators, last outcome.
    feed_etag: Mapped[str | None] = mapped_column(String(300))
    feed_modified: Mapped[str | None] = mapped_column(String(100))
    feed_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feed_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feed_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # in a row; reset on success
    feed_warning: Mapped[str | None] = mapped_column(Text)  # last bozo warning, shown on the page
    feed_error: Mapped[str | None] = mapped_column(Text)    # last failure, shown to the editor
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members = relationship("User", back_populates="structure")


class ContributionKind(enum.StrEnum):
    actualite = "actualite"
    evenement = "evenement"
    fiche_action = "fiche_action"
    ressource = "ressource"
    appel_a_projets = "appel_a_projets"


KIND_LABELS = {
    ContributionKind.actualite: "Actualité",
    ContributionKind.evenement: "Événement",
    ContributionKind.fiche_action: "Fiche action",
    ContributionKind.ressource: "Ressource",
    ContributionKind.appel_a_projets: "Appel à projets",
}


class ResourceKind(enum.StrEnum):
    publication = "publication"
    guide = "guide"
    lien = "lien"
    fichier = "fichier"


RESOURCE_KIND_LABELS = {
    ResourceKind.publication: "Publication",
    ResourceKind.guide: "Guide",
    ResourceKind.lien: "Lien",
    ResourceKind.fichier: "Fichier",
}


class ContributionStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    changes_requested = "changes_requested"
    accepted = "accepted"
    published = "published"
    rejected = "rejected"
    withdrawn = "withdrawn"


# Seen by every visitor: public pages, the directory of actions, the agenda, letters and the files
# they carry. "Accepted" is enough: "published" only says the contribution went out in a letter.
VISIBLE_STATUSES = (ContributionStatus.accepted, ContributionStatus.published)


def visible_statuses_sql() -> str:
    """VISIBLE_STATUSES as an SQL list of literals, for raw SQL: `status IN (…)`."""
    return ", ".join(f"'{status.value}'" for status in VISIBLE_STATUSES)


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
    __table_args__ = (
        Index("ix_contributions_status_submitted", "status", "submitted_at"),
        # A feed entry becomes one contribution, whatever the number of polls (contributions/feeds.py).
        Index("uq_contributions_feed_entry", "structure_id", "feed_entry_id", unique=True,
              postgresql_where=text("feed_entry_id IS NOT NULL"),
              sqlite_where=text("feed_entry_id IS NOT NULL")),
    )

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
    audience: Mapped[str | None] = mapped_column(String(300))  # événement: the public it is for
    contact: Mapped[str | None] = mapped_column(String(300))   # événement: registration contact
    deadline: Mapped[date | None] = mapped_column(Date)        # appel à projets
    resource_kind: Mapped[ResourceKind | None] = mapped_column(_enum(ResourceKind, "resource_kind"))
    source: Mapped[str] = mapped_column(String(20), default="partner")  # partner, feed, import
    feed_entry_id: Mapped[str | None] = mapped_column(String(1000))  # the entry's id (or link)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic locking of edits: the edit form carries the version it was read at, and a save
    # from an older version is refused (two editors at once: the second is told, nothing lost).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # When an editor first opened the review page: the partner may edit a submitted contribution
    # until then (contributions/editing.py).
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    structure: Mapped[Structure] = relationship()
    author = relationship("User", foreign_keys=[author_id])
    opened_by = relationship("User", foreign_keys=[opened_by_id])
    transitions: Mapped[list[ContributionTransition]] = relationship(
        back_populates="contribution", order_by="ContributionTransition.id",
        cascade="all, delete-orphan")
    revisions: Mapped[list[ContributionRevision]] = relationship(
        back_populates="contribution", order_by="ContributionRevision.id",
        cascade="all, delete-orphan")
    fiche: Mapped[FicheAction | None] = relationship(
        back_populates="contribution", uselist=False, cascade="all, delete-orphan")
    files: Mapped[list[ContributionFile]] = relationship(
        back_populates="contribution", order_by="ContributionFile.position",
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


class ContributionRevision(Base):
    """One edit by an editor: the fields before and after (contributions/editing.py). The first
    revision's `before` is the partner's original, kept whatever the editors change."""

    __tablename__ = "contribution_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer)  # the contribution's version this edit made
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contribution: Mapped[Contribution] = relationship(back_populates="revisions")
    editor = relationship("User")


class Rubrique(Base):
    """A section of the letter, in its order; an admin adds, renames and reorders them
    (/redaction/rubriques). Items name their rubrique by slug, which never changes: a rename shows
    in the next letters, a sent letter keeps its frozen copy."""

    __tablename__ = "rubriques"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RubriqueDefault(Base):
    """Where each kind of contribution lands in a letter unless the editor chooses otherwise."""

    __tablename__ = "rubrique_defaults"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)  # a ContributionKind value
    rubrique_id: Mapped[int] = mapped_column(ForeignKey("rubriques.id", ondelete="CASCADE"))

    rubrique: Mapped[Rubrique] = relationship()


class FicheAction(Base):
    """The structured write-up of a local action: the fields of the national database of
    social-centre actions (seed 004). Empty fields stay empty (None or []): nothing is invented.
    The title, the organising structure and the description live on the Contribution."""

    __tablename__ = "fiches_action"

    contribution_id: Mapped[int] = mapped_column(
        ForeignKey("contributions.id", ondelete="CASCADE"), primary_key=True)
    # Idempotent import: a stable key derived from the record (see contributions/importer.py).
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    structure_label: Mapped[str | None] = mapped_column(String(300))  # as written in the source
    departement: Mapped[str | None] = mapped_column(String(80), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    action_status: Mapped[str | None] = mapped_column(String(20))  # en_cours, terminee
    status_reason: Mapped[str | None] = mapped_column(Text)        # why it ended
    dimension: Mapped[str | None] = mapped_column(String(120))
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    initiative: Mapped[list] = mapped_column(JSON, default=list)   # who initiated it
    territory: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    public: Mapped[list] = mapped_column(JSON, default=list)
    partners: Mapped[list] = mapped_column(JSON, default=list)
    partners_description: Mapped[str | None] = mapped_column(Text)
    financial_resources: Mapped[str | None] = mapped_column(Text)
    people_mobilised: Mapped[str | None] = mapped_column(Text)
    result_territory: Mapped[str | None] = mapped_column(Text)
    result_structure: Mapped[str | None] = mapped_column(Text)
    result_inhabitants: Mapped[str | None] = mapped_column(Text)
    limits: Mapped[str | None] = mapped_column(Text)
    perspectives: Mapped[str | None] = mapped_column(Text)
    file_names: Mapped[list] = mapped_column(JSON, default=list)  # "Fichier(s) associé(s)" of an import
    contact: Mapped[str | None] = mapped_column(Text)

    contribution: Mapped[Contribution] = relationship(back_populates="fiche")


class ContributionFile(Base):
    """An image or a PDF attached to a contribution. Stored in the database: saved in the same
    transaction as the contribution (nothing half-saved) and served the same way by every process.
    Images are re-encoded (EXIF gone); `email_data` is the 600 px wide copy for the letter."""

    __tablename__ = "contribution_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # image, pdf
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(60))
    alt_text: Mapped[str | None] = mapped_column(String(500))  # required for images
    title: Mapped[str | None] = mapped_column(String(300))     # shown for a PDF
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    email_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contribution: Mapped[Contribution] = relationship(back_populates="files")


# The directory's French full-text search (contributions/directory.py): GIN expression indexes,
# PostgreSQL only, created by migration 0005_directory_search. SQLite uses an FTS5 table instead.
from contributions.fulltext import pg_contribution_document, pg_fiche_document  # noqa: E402

# (Declarative maps each class to a Table, but types __table__ as any FromClause.)
Index("ix_contributions_search_fr", text(pg_contribution_document()), postgresql_using="gin",
      postgresql_where=text("kind = 'fiche_action'"),
      _table=cast(Table, Contribution.__table__)).ddl_if(dialect="postgresql")
Index("ix_fiches_action_search_fr", text(pg_fiche_document()), postgresql_using="gin",
      _table=cast(Table, FicheAction.__table__)).ddl_if(dialect="postgresql")
