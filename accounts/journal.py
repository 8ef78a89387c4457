"""The journal: who did what and when, for every editor's and admin's action (`/redaction/journal`).

Each action calls `record` inside its own unit of work, so an action and its journal line are
committed (or rolled back) together. The domains name their actions "<domain>.<verb>" and register
a French label for each with `register_actions`, so that the journal's filter can list them;
this package never imports a layer above it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from accounts.models import JournalEntry, User
from core.text import strip_controls

ACTION_LABELS: dict[str, Any] = {}   # action -> lazy French label


def register_actions(labels: Mapping[str, Any]) -> None:
    """Called once by each domain module with the labels of the actions it records."""
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def record(db: Session, actor: User | None, action: str, summary: str, *, target: str | None = None,
           details: Mapping[str, Any] | None = None) -> JournalEntry:
    """Add one journal line to `db` (not committed: the caller's action commits it).

    `actor` is None for the platform itself (a scheduled job)."""
    entry = JournalEntry(
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else None,
        action=action[:64], target=target[:80] if target else None,
        summary=strip_controls(summary)[:2000], details=dict(details) if details else None)
    db.add(entry)
    return entry
