"""Composing an issue: numéro, title, date, édito, and accepted contributions placed in rubriques."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import User
from contributions import rubriques
from contributions.models import Contribution, ContributionStatus
from newsletter.models import Issue, IssueItem, IssueKind, IssueStatus
from subscribers import segments


class CompositionError(ValueError):
    """The composition change is not possible; the message says why, in French."""


def next_numero(db: Session) -> int:
    return (db.scalar(select(func.max(Issue.numero)).where(Issue.kind == IssueKind.letter)) or 0) + 1


def create_issue(db: Session, editor: User, numero: int, title: str, issue_date: date,
                 edito_md: str = "") -> Issue:
    if db.scalar(select(Issue.id).where(Issue.numero == numero)):
        raise CompositionError(f"Le numéro {numero} existe déjà.")
    issue = Issue(numero=numero, title=title.strip(), issue_date=issue_date, edito_md=edito_md,
                  created_by_id=editor.id, status=IssueStatus.draft)
    db.add(issue)
    db.flush()
    return issue


def update_issue(db: Session, issue: Issue, title: str, issue_date: date, edito_md: str) -> None:
    check_editable(issue)
    issue.title, issue.issue_date, issue.edito_md = title.strip(), issue_date, edito_md
    db.flush()


def set_segment(db: Session, issue: Issue, segment: dict | None) -> None:
    """Who the letter goes to: a segment (topics, roles, communes, départements) or everyone
    (None). Fixed once the mail-out has started: the deliveries are planned from it."""
    check_editable(issue)
    try:
        issue.segment = segments.normalize(segment)
    except segments.SegmentError as exc:
        raise CompositionError(str(exc)) from exc
    db.flush()


def check_editable(issue: Issue) -> None:
    if not issue.is_editable:
        raise CompositionError("Ce numéro est envoyé ou en cours d'envoi : il ne peut plus être modifié.")


def add_item(db: Session, issue: Issue, contribution: Contribution, rubrique: str | None = None) -> IssueItem:
    check_editable(issue)
    if contribution.status is not ContributionStatus.accepted:
        raise CompositionError("Seule une contribution acceptée peut être placée dans un numéro.")
    if any(item.contribution_id == contribution.id for item in issue.items):
        raise CompositionError("Cette contribution est déjà dans ce numéro.")
    rubrique = rubrique or rubriques.default_for(db, contribution.kind)
    if rubrique not in rubriques.labels(db):
        raise CompositionError("Rubrique inconnue.")
    position = max((item.position for item in issue.items), default=0) + 1
    item = IssueItem(contribution=contribution, rubrique=rubrique, position=position)
    issue.items.append(item)
    db.flush()
    return item


def _item(issue: Issue, item_id: int) -> IssueItem:
    for item in issue.items:
        if item.id == item_id:
            return item
    raise CompositionError("Cet article n'est pas dans ce numéro.")


def remove_item(db: Session, issue: Issue, item_id: int) -> None:
    check_editable(issue)
    issue.items.remove(_item(issue, item_id))
    db.flush()


def set_rubrique(db: Session, issue: Issue, item_id: int, rubrique: str) -> None:
    check_editable(issue)
    if rubrique not in rubriques.labels(db):
        raise CompositionError("Rubrique inconnue.")
    item = _item(issue, item_id)
    item.rubrique = rubrique
    item.position = max(i.position for i in issue.items) + 1  # goes to the end of its new rubrique
    db.flush()


def move_item(db: Session, issue: Issue, item_id: int, direction: int) -> bool:
    """Swap an item with its neighbour in the same rubrique (direction -1: up, +1: down).
    Returns False when it is already first or last."""
    check_editable(issue)
    item = _item(issue, item_id)
    siblings = sorted((i for i in issue.items if i.rubrique == item.rubrique), key=lambda i: i.position)
    index = siblings.index(item) + (1 if direction > 0 else -1)
    if not 0 <= index < len(siblings):
        return False
    other = siblings[index]
    item.position, other.position = other.position, item.position
    db.flush()
    issue.items.sort(key=lambda i: i.position)
    return True


def list_issues(db: Session) -> list[Issue]:
    """The letters (invitations have their own list: events.invitations)."""
    return list(db.scalars(select(Issue).where(Issue.kind == IssueKind.letter).order_by(Issue.numero.desc())))


def placed_contribution_ids(db: Session) -> set[int]:
    """Contributions already in an issue that is not yet sent (not offered twice)."""
    return set(db.scalars(select(IssueItem.contribution_id).join(Issue)
                          .where(Issue.status != IssueStatus.sent, IssueItem.contribution_id.is_not(None))))
