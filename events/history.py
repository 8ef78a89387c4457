"""The events a subscriber registered to (matched by address): a source of the subscriber's
history (subscribers/history.py), registered by the bootstrap."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from core.formatting import long_date
from events.models import RegistrationStatus
from events.retention import registrations_of
from subscribers.history import HistoryEntry
from subscribers.models import Subscriber


def registrations(db: Session, subscriber: Subscriber) -> list[HistoryEntry]:
    entries = []
    for registration in registrations_of(db, subscriber.email):
        event = registration.event
        status = {RegistrationStatus.confirmed: _("inscription confirmée"),
                  RegistrationStatus.waitlisted: _("sur liste d'attente"),
                  RegistrationStatus.cancelled: _("inscription annulée"),
                  RegistrationStatus.unconfirmed: _("adresse pas encore confirmée")}[registration.status]
        entries.append(HistoryEntry(
            at=registration.created_at, kind="registration",
            label=_("Inscription à l'événement « %(title)s »", title=event.title),
            detail=_("Le %(date)s ; %(status)s ; %(people)s", date=long_date(event.starts_at), status=status,
                     people=ngettext("%(num)s personne", "%(num)s personnes", registration.party_size))))
    return entries
