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
    return f"Invitation — {issue.title}"


def export_deliveries(db: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    rows = db.execute(select(Delivery, Issue).join(Issue, Issue.id == Delivery.issue_id)
                      .where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id))
    return [{"letter": letter_name(issue), "kind": issue.kind.value, "numero": issue.numero,
             "status": delivery.status.value, "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None}
            for delivery, issue in rows]
