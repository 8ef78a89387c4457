"""Subscription with double opt-in, confirmation, one-click unsubscribe, and consent records.

The web answer to a subscription is the same whatever the address's state, so that the form never
tells a stranger whether someone is subscribed; the difference goes by e-mail to the address.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import urls
from core.addresses import local_part_problem
from core.db import utcnow
from core.settings import get_settings
from mailing.outbox import queue_email
from mailing.templates import render_email
from subscribers.models import (
    ROLES,
    TOPICS,
    ConsentRecord,
    Subscriber,
    SubscriberStatus,
)
from subscribers.segments import clean_commune

log = logging.getLogger(__name__)

CONSENT_WORDING = ("J'accepte de recevoir la lettre Parentalités par e-mail. Je peux me désabonner "
                   "à tout moment par le lien présent dans chaque lettre.")
CONFIRMATION_MAX_AGE = 7 * 24 * 3600


class InvalidEmail(ValueError):
    """The address is not a valid e-mail address; the message says why, in French."""


def normalize_email(raw: str) -> str:
    if problem := local_part_problem(raw):
        raise InvalidEmail(problem)
    try:
        info = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"Adresse e-mail invalide : {exc}") from exc
    return (info.ascii_email or info.normalized).lower()


def one_line(value: str | None) -> str:
    """Names go into e-mail headers: no line breaks, no control characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in (value or "")).split())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="subscription-confirm")


def confirmation_token(subscriber: Subscriber, consent: ConsentRecord) -> str:
    # Names the consent record too: a link from an older subscription cannot confirm a newer one.
    return _serializer().dumps({"s": subscriber.id, "c": consent.id})


@dataclass
class Request:
    """Where an action came from, kept with the consent record."""
    ip: str | None = None
    user_agent: str | None = None


def _record(db: Session, subscriber: Subscriber, action: str, request: Request | None,
            wording: str | None = None) -> ConsentRecord:
    request = request or Request()
    record = ConsentRecord(subscriber=subscriber, action=action, wording=wording, ip=request.ip,
                           user_agent=(request.user_agent or "")[:300] or None)
    db.add(record)
    db.flush()
    return record


def _send_confirmation(db: Session, subscriber: Subscriber, consent: ConsentRecord) -> None:
    url = urls.absolute(urls.confirm_path(confirmation_token(subscriber, consent)))
    queue_email(db, "subscription_confirm", subscriber.email,
                {"subscriber": subscriber, "confirm_url": url})


def subscribe(db: Session, email: str, name: str = "", structure_name: str = "",
              request: Request | None = None, preferences: dict | None = None) -> None:
    """Start a subscription (double opt-in). Raises InvalidEmail; otherwise always succeeds in the
    same way (the e-mail leaves after COMMIT). `preferences` (topics, role, commune) apply to a
    new, pending or returning subscriber only: an active one changes them through the link in
    their letters."""
    address = normalize_email(email)
    name, structure_name = one_line(name), one_line(structure_name)
    subscriber = db.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        subscriber = Subscriber(email=address, name=name.strip(), structure_name=structure_name.strip())
        db.add(subscriber)
        db.flush()
    if subscriber.status is SubscriberStatus.active:
        queue_email(db, "subscription_exists", subscriber.email, {"subscriber": subscriber,
                    "unsubscribe_url": urls.absolute(urls.unsubscribe_path(subscriber.unsubscribe_token))})
    elif subscriber.status is SubscriberStatus.suppressed:
        log.info("subscription attempt for suppressed subscriber %s ignored", subscriber.id)
        # As much work as the other cases (the e-mail rendered, then dropped): the time of the
        # answer does not tell that the address is suppressed.
        render_email("subscription_confirm", {"subscriber": subscriber, "confirm_url": urls.absolute("/-")})
    else:  # new, still pending, or subscribing again after leaving
        if name.strip():
            subscriber.name = name.strip()
        if structure_name.strip():
            subscriber.structure_name = structure_name.strip()
        if preferences is not None:
            set_preferences(db, subscriber, **preferences)
        subscriber.status = SubscriberStatus.pending
        consent = _record(db, subscriber, "subscribe", request, CONSENT_WORDING)
        _send_confirmation(db, subscriber, consent)


class ConfirmResult(enum.Enum):
    confirmed = "confirmed"
    already = "already"
    expired = "expired"
    invalid = "invalid"


def confirm(db: Session, token: str, request: Request | None = None) -> ConfirmResult:
    try:
        data = _serializer().loads(token, max_age=CONFIRMATION_MAX_AGE)
    except SignatureExpired:
        return ConfirmResult.expired
    except BadSignature:
        return ConfirmResult.invalid
    if not isinstance(data, dict):
        return ConfirmResult.invalid
    subscriber = db.get(Subscriber, data.get("s"))
    if subscriber is None:
        return ConfirmResult.invalid
    latest = db.scalar(select(ConsentRecord.id).where(
        ConsentRecord.subscriber_id == subscriber.id, ConsentRecord.action == "subscribe")
        .order_by(ConsentRecord.id.desc()).limit(1))
    if subscriber.status is SubscriberStatus.active and data.get("c") == latest:
        return ConfirmResult.already
    if subscriber.status is not SubscriberStatus.pending or data.get("c") != latest:
        return ConfirmResult.invalid
    subscriber.status = SubscriberStatus.active
    subscriber.confirmed_at = utcnow()
    _record(db, subscriber, "confirm", request)
    return ConfirmResult.confirmed


def by_unsubscribe_token(db: Session, token: str) -> Subscriber | None:
    if not token or len(token) > 64:
        return None
    return db.scalar(select(Subscriber).where(Subscriber.unsubscribe_token == token))


def unsubscribe(db: Session, subscriber: Subscriber, request: Request | None = None,
                via: str = "web") -> bool:
    """Stop every letter to this subscriber at once. Returns False if they had already left."""
    if subscriber.status in (SubscriberStatus.unsubscribed, SubscriberStatus.suppressed):
        return False
    subscriber.status = SubscriberStatus.unsubscribed
    subscriber.unsubscribed_at = utcnow()
    _record(db, subscriber, f"unsubscribe:{via}", request)
    return True


def set_preferences(db: Session, subscriber: Subscriber, topics: list[str] | None = None,
                    role: str | None = None, commune: str | None = None) -> None:
    """Topics (keys of TOPICS; none = every topic), role (key of ROLES) and commune, all optional.
    Unknown keys are dropped."""
    subscriber.topics = sorted({t for t in (topics or []) if t in TOPICS})
    subscriber.role = role if role in ROLES else None
    subscriber.commune = clean_commune(one_line(commune))[:120] or None
    db.flush()


def active_subscriber_count(db: Session) -> int:
    return db.scalar(select(func.count(Subscriber.id)).where(Subscriber.status == SubscriberStatus.active)) or 0
