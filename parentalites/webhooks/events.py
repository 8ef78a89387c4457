"""The events a webhook may receive, and what each one says.

Personal data: a payload carries what a partner's system needs to react, never a person's name or
e-mail address. A subscriber is an id and their topics (the id lets the receiver match a later
`subscriber.unsubscribed`); a registration is an id, a status and a party size, with its event; a
letter, a contribution and an event are public (or organisational) facts. Whoever needs more asks
the platform, under its own access rules."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from contributions.models import Contribution
from core import urls
from events.models import Event, Registration, RegistrationStatus
from newsletter.models import Issue
from subscribers.models import Subscriber

EVENTS: dict[str, Any] = {
    "subscriber.confirmed": _l("Abonnement confirmé"),
    "subscriber.unsubscribed": _l("Désabonnement"),
    "letter.sent": _l("Lettre envoyée"),
    "contribution.accepted": _l("Contribution acceptée"),
    "registration.created": _l("Inscription à un événement"),
    "registration.cancelled": _l("Inscription annulée"),
}
PING = "ping"  # the admin's test, sent to one endpoint whatever it chose
LABELS = {**EVENTS, PING: _l("Essai")}


def when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def subscriber_confirmed(subscriber: Subscriber) -> dict:
    return {"subscriber": {"id": subscriber.id, "topics": list(subscriber.topics or []),
                           "confirmed_at": when(subscriber.confirmed_at)}}


def subscriber_unsubscribed(subscriber: Subscriber, via: str) -> dict:
    return {"subscriber": {"id": subscriber.id, "unsubscribed_at": when(subscriber.unsubscribed_at)},
            "via": via}


def letter_sent(issue: Issue) -> dict:
    return {"letter": {"id": issue.id, "numero": issue.numero, "title": issue.title,
                       "sent_at": when(issue.sent_at),
                       "url": urls.absolute(urls.letter_path(issue.numero)) if issue.numero else None}}


def contribution_accepted(contribution: Contribution) -> dict:
    return {"contribution": {"id": contribution.id, "kind": contribution.kind.value, "title": contribution.title,
                             "structure": {"id": contribution.structure_id,
                                           "name": contribution.structure.name if contribution.structure else None}}}


def _event(event: Event) -> dict:
    return {"id": event.id, "title": event.title, "starts_at": when(event.starts_at)}


def registration(registration: Registration, previous: RegistrationStatus | None = None) -> dict:
    data: dict[str, Any] = {"registration": {"id": registration.id, "status": registration.status.value,
                                             "party_size": registration.party_size},
                            "event": _event(registration.event)}
    if previous is not None:
        data["registration"]["previous_status"] = previous.value
    return data
