"""Contributions and their moderation workflow.

draft → submitted → (changes_requested ⇄ submitted) → accepted → published; or rejected; or
withdrawn by the partner. "Accepted" (decided) stays apart from "published" (in a sent letter).
Every transition is recorded, and the partner is told of each decision by e-mail.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contributions.models import (
    Contribution, ContributionKind, ContributionStatus as S, ContributionTransition, Structure,
)
from newsletter import urls
from newsletter.db import utcnow
from newsletter.mail import queue_email
from newsletter.models import User

# Who may move a contribution from one status to another.
PARTNER_MOVES = {
    (S.draft, S.submitted), (S.changes_requested, S.submitted),
    (S.draft, S.withdrawn), (S.submitted, S.withdrawn), (S.changes_requested, S.withdrawn),
}
EDITOR_MOVES = {
    (S.submitted, S.accepted), (S.submitted, S.rejected), (S.submitted, S.changes_requested),
    (S.changes_requested, S.rejected),
}
SYSTEM_MOVES = {(S.accepted, S.published)}
DECISIONS = {S.accepted, S.rejected, S.changes_requested}
EDITABLE_BY_PARTNER = {S.draft, S.changes_requested}


class ModerationError(ValueError):
    """A move the workflow does not allow; the message says why, in French."""


class Forbidden(PermissionError):
    """The account may not see or change this contribution."""


@dataclass
class ContributionData:
    kind: ContributionKind
    title: str
    body_md: str = ""
    link: str | None = None
    event_start: datetime | None = None
    event_end: datetime | None = None
    place: str | None = None


def can_view(user: User, contribution: Contribution) -> bool:
    return user.is_editor or (user.structure_id is not None and user.structure_id == contribution.structure_id)


def check_can_edit(user: User, contribution: Contribution) -> None:
    if user.is_editor:
        return
    if user.structure_id != contribution.structure_id:
        raise Forbidden()
    if contribution.status not in EDITABLE_BY_PARTNER:
        raise ModerationError("Cette contribution n'est plus modifiable.")


def _validate(data: ContributionData) -> None:
    if not data.title.strip():
        raise ModerationError("Le titre est obligatoire.")
    if data.kind is ContributionKind.evenement:
        if data.event_start is None:
            raise ModerationError("Un événement doit avoir une date de début.")
        if data.event_end is not None and data.event_end < data.event_start:
            raise ModerationError("La fin de l'événement précède son début.")


def _move(db: Session, contribution: Contribution, to: S, actor: User | None, comment: str | None) -> None:
    db.add(ContributionTransition(contribution=contribution, from_status=contribution.status.value,
                                  to_status=to.value, actor_id=actor.id if actor else None,
                                  comment=(comment or "").strip() or None))
    contribution.status = to
    if to is S.submitted:
        contribution.submitted_at = utcnow()


def create(db: Session, author: User, data: ContributionData, *, submit: bool = True) -> Contribution:
    if author.structure_id is None:
        raise Forbidden()
    _validate(data)
    contribution = Contribution(structure_id=author.structure_id, author_id=author.id, status=S.draft,
                                **data.__dict__)
    db.add(contribution)
    db.flush()
    db.add(ContributionTransition(contribution=contribution, from_status=None, to_status=S.draft.value,
                                  actor_id=author.id))
    if submit:
        _move(db, contribution, S.submitted, author, None)
    db.commit()
    return contribution


def update(db: Session, actor: User, contribution: Contribution, data: ContributionData, *,
           submit: bool = False) -> Contribution:
    check_can_edit(actor, contribution)
    _validate(data)
    for key, value in data.__dict__.items():
        setattr(contribution, key, value)
    if submit and not actor.is_editor:
        _move(db, contribution, S.submitted, actor, None)
    db.commit()
    return contribution


def withdraw(db: Session, partner: User, contribution: Contribution) -> None:
    if partner.structure_id != contribution.structure_id:
        raise Forbidden()
    if (contribution.status, S.withdrawn) not in PARTNER_MOVES:
        raise ModerationError("Cette contribution ne peut plus être retirée.")
    _move(db, contribution, S.withdrawn, partner, None)
    db.commit()


def decide(db: Session, editor: User, contribution: Contribution, decision: S, comment: str = "") -> None:
    """Accept, reject or request changes; the partner is told by e-mail."""
    if not editor.is_editor:
        raise Forbidden()
    if decision not in DECISIONS or (contribution.status, decision) not in EDITOR_MOVES:
        raise ModerationError("Cette décision n'est pas possible dans l'état actuel de la contribution.")
    if decision in (S.changes_requested, S.rejected) and not comment.strip():
        raise ModerationError("Expliquez au partenaire ce qui doit changer (commentaire obligatoire).")
    _move(db, contribution, decision, editor, comment)
    notify_partner(db, contribution, comment)
    db.commit()


def notify_partner(db: Session, contribution: Contribution, comment: str) -> None:
    recipients = {m.email for m in contribution.structure.members if m.active}
    if contribution.author is not None and contribution.author.active:
        recipients = {contribution.author.email}
    for address in sorted(recipients):
        queue_email(db, "moderation_decision", address, {
            "contribution": contribution, "comment": comment.strip(),
            "url": urls.absolute(f"/partenaires/contributions/{contribution.id}"),
        })


def mark_published(db: Session, contributions: list[Contribution], note: str) -> None:
    for contribution in contributions:
        if (contribution.status, S.published) in SYSTEM_MOVES:
            _move(db, contribution, S.published, None, note)


def for_structure(db: Session, structure_id: int) -> list[Contribution]:
    return list(db.scalars(select(Contribution).where(Contribution.structure_id == structure_id)
                           .order_by(Contribution.updated_at.desc())))


def moderation_queue(db: Session, status: S | None = S.submitted) -> list[Contribution]:
    """Waiting longest first."""
    query = select(Contribution).join(Structure)
    if status is not None:
        query = query.where(Contribution.status == status)
    return list(db.scalars(query.order_by(Contribution.submitted_at.asc().nulls_last(), Contribution.id)))


def accepted_not_placed(db: Session, exclude_ids: set[int]) -> list[Contribution]:
    query = select(Contribution).where(Contribution.status == S.accepted).order_by(Contribution.submitted_at)
    return [c for c in db.scalars(query) if c.id not in exclude_ids]
