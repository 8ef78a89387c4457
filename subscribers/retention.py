"""Retention of subscribers (CNIL's three-year rule for prospects, applied to the letter's readers).

- An active subscriber with no sign of life for RETENTION_YEARS (last_activity_at: confirmation,
  preferences saved, a registration, a re-consent click; opens are never tracked; failing that,
  confirmed_at, then created_at) gets one re-permission e-mail with a « Je reste abonné·e » button.
- No answer within REPERMISSION_GRACE_DAYS: erased (subscribers.privacy.erase, channel retention).
- A subscription left unconfirmed for PENDING_RETENTION_DAYS (counted from the last subscription
  request): erased.

`purge(db, dry_run=True)` counts what would happen and changes nothing; without it, it does it and
returns the same counts. Running it again does nothing more (the e-mail is sent once, the erased
are gone). Beat runs it daily with events' retention (tasks/retention.py);
`parentalites subscribers purge [--dry-run]` does the same.
"""
from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import urls
from core.db import utcnow
from core.settings import get_settings
from mailing.outbox import queue_email
from subscribers import import_files, privacy
from subscribers.models import ConsentRecord, Subscriber, SubscriberStatus

log = logging.getLogger(__name__)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the last day of a shorter month)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def years_before(moment: datetime, years: int) -> datetime:
    return months_before(moment, 12 * years)


def last_sign_of_life(subscriber: Subscriber) -> datetime:
    """When the subscriber last showed they still want the letter."""
    return subscriber.last_activity_at or subscriber.confirmed_at or subscriber.created_at


@dataclass(frozen=True)
class Limits:
    """The dates that decide, from `now` and the settings."""
    silent_since: datetime   # no sign of life after this: ask again
    asked_before: datetime   # asked before this and no answer: erase
    pending_before: datetime  # subscription requested before this and unconfirmed: erase

    @classmethod
    def at(cls, now: datetime, retention_years: int, grace_days: int, pending_days: int) -> Limits:
        return cls(silent_since=years_before(now, retention_years),
                   asked_before=now - timedelta(days=grace_days),
                   pending_before=now - timedelta(days=pending_days))


def needs_repermission(subscriber: Subscriber, limits: Limits) -> bool:
    return (subscriber.status is SubscriberStatus.active and subscriber.repermission_sent_at is None
            and last_sign_of_life(subscriber) < limits.silent_since)


def repermission_expired(subscriber: Subscriber, limits: Limits) -> bool:
    return (subscriber.status is SubscriberStatus.active and subscriber.repermission_sent_at is not None
            and subscriber.repermission_sent_at < limits.asked_before)


def _limits(now: datetime) -> Limits:
    settings = get_settings()
    return Limits.at(now, settings.retention_years, settings.repermission_grace_days,
                     settings.pending_retention_days)


_sign_of_life = func.coalesce(Subscriber.last_activity_at, Subscriber.confirmed_at, Subscriber.created_at)


def _due_repermission(limits: Limits):
    # The same rule as needs_repermission, in SQL.
    return select(Subscriber).where(Subscriber.status == SubscriberStatus.active,
                                    Subscriber.repermission_sent_at.is_(None),
                                    _sign_of_life < limits.silent_since).order_by(Subscriber.id)


def _expired_repermission(limits: Limits):
    return select(Subscriber).where(Subscriber.status == SubscriberStatus.active,
                                    Subscriber.repermission_sent_at.is_not(None),
                                    Subscriber.repermission_sent_at < limits.asked_before).order_by(Subscriber.id)


def _expired_pending(limits: Limits):
    last_request = (select(func.max(ConsentRecord.at)).where(ConsentRecord.subscriber_id == Subscriber.id,
                                                             ConsentRecord.action == "subscribe")
                    .scalar_subquery())
    return select(Subscriber).where(Subscriber.status == SubscriberStatus.pending,
                                    func.coalesce(last_request, Subscriber.created_at) < limits.pending_before
                                    ).order_by(Subscriber.id)


def reconsent_path(token: str) -> str:
    return f"/abonnement/rester/{token}"


def send_repermission(db: Session, subscriber: Subscriber, now: datetime) -> None:
    queue_email(db, "subscription_repermission", subscriber.email, {
        "subscriber": subscriber,
        "reconsent_url": urls.absolute(reconsent_path(subscriber.unsubscribe_token)),
        "unsubscribe_url": urls.absolute(urls.unsubscribe_path(subscriber.unsubscribe_token)),
        "preferences_url": urls.absolute(urls.preferences_path(subscriber.unsubscribe_token)),
        "retention_years": get_settings().retention_years,
        "grace_days": get_settings().repermission_grace_days,
    })
    subscriber.repermission_sent_at = now


@dataclass
class PurgeReport:
    repermission_sent: int = 0
    erased_no_answer: int = 0
    erased_pending: int = 0
    others: dict[str, int] = field(default_factory=dict)  # e.g. registrations_anonymised (events)

    def counts(self) -> dict[str, int]:
        return {"repermission_sent": self.repermission_sent, "erased_no_answer": self.erased_no_answer,
                "erased_pending": self.erased_pending, **self.others}

    def summary(self) -> str:
        return ", ".join(f"{key}: {value}" for key, value in self.counts().items())


def _count(db: Session, query) -> int:
    return db.scalar(select(func.count()).select_from(query.subquery())) or 0


def purge(db: Session, now: datetime | None = None, dry_run: bool = False) -> PurgeReport:
    """Apply the retention rules to the subscribers (the caller commits). With `dry_run`, count only.
    The order matters: those asked long ago are erased before anyone new is asked, so that one
    run never asks and erases the same person."""
    now = now or utcnow()
    limits = _limits(now)
    report = PurgeReport()
    if dry_run:
        report.erased_no_answer = _count(db, _expired_repermission(limits))
        report.erased_pending = _count(db, _expired_pending(limits))
        report.repermission_sent = _count(db, _due_repermission(limits))
        return report
    for subscriber in db.scalars(_expired_repermission(limits)).all():
        privacy.erase(db, subscriber, channel="retention",
                      note=f"Sans réponse {get_settings().repermission_grace_days} jours après la demande "
                           "de re-consentement")
        report.erased_no_answer += 1
    for subscriber in db.scalars(_expired_pending(limits)).all():
        privacy.erase(db, subscriber, channel="retention",
                      note=f"Abonnement non confirmé depuis {get_settings().pending_retention_days} jours")
        report.erased_pending += 1
    for subscriber in db.scalars(_due_repermission(limits)).all():
        send_repermission(db, subscriber, now)
        report.repermission_sent += 1
    swept = import_files.sweep_previews(db, now)
    if swept:  # said only when it happened: the summary stays about people
        report.others["import_previews_deleted"] = swept
    db.flush()
    log.info("retention: %s", report.summary())
    return report
