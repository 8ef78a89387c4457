"""A subscriber's deliveries, named by their letter or invitation: their part of an RGPD export
(registered with subscribers.privacy by the bootstrap). The erasure keeps the deliveries
anonymised, which subscribers.privacy does itself in the ledger."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailing.models import Delivery
from newsletter.models import Issue, IssueKind
from subscribers.models import Subscriber


def letter_name(issue: Issue) -> str:
    if issue.kind is IssueKind.letter and issue.numero is not None:
        return f"Lettre Parentalités n°{issue.numero} — {issue.title}"
    if issue.kind is IssueKind.invitation:
        return f"Invitation — {issue.title}"
    return issue.title  # the confirmation and welcome mail-outs of an import name themselves


def deliveries_of(db: Session, subscriber: Subscriber):
    """(Delivery, Issue) rows of one subscriber, oldest first: their export and their history."""
    return db.execute(select(Delivery, Issue).join(Issue, Issue.id == Delivery.issue_id)
                      .where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id))


def export_deliveries(db: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = deliveries_of(db, subscriber)
    return [{"letter": letter_name(issue), "kind": issue.kind.value, "numero": issue.numero,
             "status": delivery.status.value, "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None}
            for delivery, issue in rows]
