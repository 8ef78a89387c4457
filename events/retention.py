"""Personal data of event registrations: their part of an RGPD export or erasure (registered with
subscribers.privacy by the bootstrap), and their retention: REGISTRATION_RETENTION_MONTHS after an
event, its registrations are anonymised; the counts (rows, party sizes, statuses, who came) stay.

An anonymised registration has no name, structure, role or needs, a fresh token (its link dies) and
an address in the reserved domain `anonyme.invalid`, which is never mailed.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager

from core.db import utcnow
from core.settings import get_settings
from events import services
from events.models import (
    ANONYMOUS_DOMAIN,
    Event,
    Registration,
    RegistrationStatus,
    new_registration_token,
)
from subscribers.models import ConsentVersion, Subscriber
from subscribers.retention import months_before

log = logging.getLogger(__name__)

ANONYMOUS_NAME = "Inscription anonymisée"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def is_anonymised(registration: Registration) -> bool:
    return registration.email.endswith("@" + ANONYMOUS_DOMAIN)


def anonymise(registration: Registration) -> None:
    registration.name = ANONYMOUS_NAME
    registration.email = f"inscription-{registration.id}@{ANONYMOUS_DOMAIN}"
    registration.structure = ""
    registration.role = ""
    registration.accessibility_needs = ""
    registration.token = new_registration_token()


def registrations_of(db: Session, address: str) -> list[Registration]:
    """Every registration made with this address, its event loaded with it (one query): the
    subscriber's export, erasure and history."""
    return list(db.scalars(select(Registration).join(Event).options(contains_eager(Registration.event)).where(
        func.lower(Registration.email) == address.strip().lower())
        .order_by(Event.starts_at, Registration.id)))


def export_registrations(db: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    """The registrations made with the subscriber's address (the subscriber.privacy registry)."""
    registrations = registrations_of(db, subscriber.email)
    ids = {r.consent_version_id for r in registrations if r.consent_version_id}
    versions = {v.id: v for v in db.scalars(select(ConsentVersion).where(ConsentVersion.id.in_(ids)))} if ids else {}
    return [{
        "event": r.event.title, "event_starts_at": _iso(r.event.starts_at), "place": r.event.place,
        "status": r.status.value, "name": r.name, "email": r.email, "structure": r.structure, "role": r.role,
        "accessibility_needs": r.accessibility_needs, "party_size": r.party_size,
        "registered_at": _iso(r.created_at), "consent_at": _iso(r.consent_at),
        "consent_text": versions[r.consent_version_id].text if r.consent_version_id in versions else None,
        "consent_version": r.consent_version_id,
        "cancelled_at": _iso(r.cancelled_at), "attended": r.attended,
    } for r in registrations]


def erase_registrations(db: Session, subscriber: Subscriber, now: datetime | None = None) -> int:
    """The person's registrations: a live one to an event to come is cancelled first (its seats go
    to the waitlist, who are told), then every one is anonymised; the counts stay."""
    now = now or utcnow()
    registrations = registrations_of(db, subscriber.email)
    for registration in registrations:
        if registration.status is not RegistrationStatus.cancelled and registration.event.starts_at > now:
            services.cancel(db, registration, now)
        anonymise(registration)
    db.flush()
    return len(registrations)


def _expired(now: datetime):
    limit = months_before(now, get_settings().registration_retention_months)
    return (select(Registration).join(Event)
            .where(Event.ends_at < limit, ~Registration.email.endswith("@" + ANONYMOUS_DOMAIN)))


def anonymise_expired_registrations(db: Session, now: datetime | None = None, dry_run: bool = False) -> int:
    """Anonymise the registrations of events that ended more than REGISTRATION_RETENTION_MONTHS
    ago; with `dry_run`, only count them. Returns the count; running it again finds none."""
    now = now or utcnow()
    if dry_run:
        return db.scalar(select(func.count()).select_from(_expired(now).subquery())) or 0
    registrations = list(db.scalars(_expired(now)))
    for registration in registrations:
        anonymise(registration)
    db.flush()
    if registrations:
        log.info("retention: registrations of past events anonymised: %d", len(registrations))
    return len(registrations)
