"""The letters and invitations a subscriber was sent, with the outcome of each delivery: a source
of the subscriber's history (subscribers/history.py), registered by the bootstrap."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from mailing.models import Delivery, DeliveryStatus
from newsletter.models import IssueKind
from newsletter.personal_data import deliveries_of
from subscribers.history import HistoryEntry
from subscribers.models import Subscriber


def _outcome(delivery: Delivery) -> str:
    reply = " ".join((delivery.smtp_reply or "").split())[:300]
    if delivery.status is DeliveryStatus.sent:
        return _("Remise au serveur de messagerie") + (f" ({delivery.smtp_code})" if delivery.smtp_code else "")
    if delivery.status is DeliveryStatus.failed:
        return _("Échec de l'envoi") + (f" : {delivery.smtp_code or ''} {reply}".rstrip() if reply or delivery.smtp_code
                                          else "")
    if delivery.status is DeliveryStatus.cancelled:
        return _("Envoi annulé")
    return _("En cours d'envoi")


def deliveries(db: Session, subscriber: Subscriber) -> list[HistoryEntry]:
    entries = []
    for delivery, issue in deliveries_of(db, subscriber):
        if issue.kind is IssueKind.invitation:
            label = _("Invitation : %(title)s", title=issue.title)
        elif issue.kind is IssueKind.letter:
            label = _("Lettre n°%(n)s : %(title)s", n=issue.numero, title=issue.title)
        else:  # the confirmation and welcome mail-outs of an import (no numéro)
            label = issue.title
        at = delivery.sent_at or delivery.claimed_at or issue.send_started_at or issue.created_at
        kind = "delivery" if delivery.status is not DeliveryStatus.failed else "delivery-failed"
        entries.append(HistoryEntry(at=at, kind=kind, label=label, detail=_outcome(delivery)))
    return entries
