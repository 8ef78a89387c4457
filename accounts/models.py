"""Accounts: a partner attached to a structure, an editor, or an admin."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, enum_column, utcnow


class Role(enum.StrEnum):
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
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    structure_id: Mapped[int | None] = mapped_column(ForeignKey("structures.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by an editor, by e-mail
    # Part of every session's id (get_id) and of every e-mailed link: moved at logout and at a
    # password change, it ends every session and spends every link issued before.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    structure = relationship("Structure", back_populates="members")

    def get_id(self) -> str:  # Flask-Login: what the session (and the remember cookie) holds
        return f"{self.id}:{self.session_version or 0}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_editor(self) -> bool:
        return self.role in (Role.editor, Role.admin)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


class JournalEntry(Base):
    """One editor's or admin's action, for `/redaction/journal` (accounts/journal.py writes them).

    The actor's address is copied so that the line still says who did it once the account is gone."""

    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_entries_at", "at"), Index("ix_journal_entries_action", "action"),
                      Index("ix_journal_entries_target", "target"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))  # None: the platform itself (a job, beat)
    action: Mapped[str] = mapped_column(String(64))       # "<domain>.<verb>", e.g. contribution.edited
    target: Mapped[str | None] = mapped_column(String(80))  # "<kind>:<id>", e.g. contribution:12
    summary: Mapped[str] = mapped_column(Text)            # one French sentence, as shown
    details: Mapped[dict | None] = mapped_column(JSON)
