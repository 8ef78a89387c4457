"""Subscription with double opt-in, confirmation, one-click unsubscribe, and consent records.

The web answer to a subscription is the same whatever the address's state, so that the form never
tells a stranger whether someone is subscribed; the difference goes by e-mail to the address.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import departements, urls
from core.db import utcnow
from core.email_address import AddressRefused, checked_address
from core.settings import get_settings
from mailing.engine import greeting, letter_headers
from mailing.models import OutboundEmail
from mailing.outbox import queue_email
from subscribers import consent as consent_texts
from subscribers import history, signals
from subscribers.models import (
    ROLES,
    TOPICS,
    ConsentRecord,
    LegalBasis,
    Subscriber,
    SubscriberStatus,
)
from subscribers.privacy import is_suppressed_hash
from subscribers.segments import clean_commune

log = logging.getLogger(__name__)

# The text lives in subscribers/consent.py (one place, versioned); this name stays for the form.
CONSENT_WORDING = consent_texts.NEWSLETTER_TEXT
CONFIRMATION_MAX_AGE = 7 * 24 * 3600


class InvalidEmail(ValueError):
    """The address is not a valid e-mail address; the message says why, in French."""


def normalize_email(raw: str) -> str:
    try:
        return checked_address(raw).lower()
    except AddressRefused as exc:
        raise InvalidEmail(str(exc)) from exc


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


def record_consent(db: Session, subscriber: Subscriber, action: str, request: Request | None = None, *,
                   source: str | None = None, details: dict | None = None,
                   purpose: str = consent_texts.NEWSLETTER) -> ConsentRecord:
    """A proof: the action (subscribe, confirm, reconsent, unsubscribe…, import), the version of the
    consent text it is about and a copy of its exact words, when, from where."""
    request = request or Request()
    version = consent_texts.current_version(db, purpose)
    record = ConsentRecord(subscriber=subscriber, action=action, wording=version.text, version=version,
                           source=source, details=details, ip=request.ip,
                           user_agent=(request.user_agent or "")[:300] or None)
    db.add(record)
    db.flush()
    return record


def _record(db: Session, subscriber: Subscriber, action: str, request: Request | None) -> ConsentRecord:
    return record_consent(db, subscriber, action, request, source="formulaire")


def touch(subscriber: Subscriber, now=None) -> None:
    """A sign of life (confirmation, preferences saved, a registration, a re-consent click): the
    retention clock starts again and a pending re-permission request is answered."""
    subscriber.last_activity_at = now or utcnow()
    subscriber.repermission_sent_at = None


def touch_address(db: Session, address: str, now=None) -> bool:
    """A sign of life from whoever holds this (normalised) address, if they are a subscriber."""
    subscriber = db.scalar(select(Subscriber).where(Subscriber.email == address.strip().lower()))
    if subscriber is None or subscriber.status not in (SubscriberStatus.active, SubscriberStatus.pending):
        return False
    touch(subscriber, now)
    return True


def _send_confirmation(db: Session, subscriber: Subscriber, consent: ConsentRecord) -> None:
    url = urls.absolute(urls.confirm_path(confirmation_token(subscriber, consent)))
    queue_email(db, "subscription_confirm", subscriber.email,
                {"subscriber": subscriber, "confirm_url": url})


def subscribe(db: Session, email: str, name: str = "", structure_name: str = "",
              request: Request | None = None, preferences: dict | None = None) -> None:
    """Start a subscription (double opt-in). Raises InvalidEmail; otherwise always succeeds in the
    same way (the e-mail leaves after COMMIT). `preferences` (topics, role, commune) apply to a
    new or returning subscriber only: an active one changes them through the link in their
    letters; a pending one keeps what it gave (an anonymous form cannot overwrite it) and its
    link keeps working. Whatever the form is sent again, the address gets at most one e-mail of
    each kind per hour (RESEND_INTERVAL)."""
    address = normalize_email(email)
    name, structure_name = one_line(name), one_line(structure_name)
    subscriber = db.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None and is_suppressed_hash(db, address):
        # Erased after a hard bounce or a complaint: only a keyed hash is left, and it says never
        # again. Same answer as for anyone else.
        log.info("subscription attempt for an erased, suppressed address ignored")
        return
    created = subscriber is None
    if subscriber is None:
        subscriber = Subscriber(email=address, name=name.strip(), structure_name=structure_name.strip())
        db.add(subscriber)
        db.flush()
    if subscriber.status is SubscriberStatus.active:
        if not _mailed_recently(db, address, "subscription_exists"):
            queue_email(db, "subscription_exists", subscriber.email, {"subscriber": subscriber,
                        "unsubscribe_url": urls.absolute(urls.unsubscribe_path(subscriber.unsubscribe_token))})
    elif subscriber.status is SubscriberStatus.suppressed:
        # Nothing to send; the web answer does not wait for this (tasks.subscribers.subscribe).
        log.info("subscription attempt for suppressed subscriber %s ignored", subscriber.id)
    elif (subscriber.status is SubscriberStatus.pending and not created
          and (consent := _pending_consent(db, subscriber)) is not None):
        # Already waiting for confirmation: keep the record and its link; send the link again.
        if not _mailed_recently(db, address, "subscription_confirm"):
            _send_confirmation(db, subscriber, consent)
    else:  # new, or subscribing again after leaving
        if name.strip():
            subscriber.name = name.strip()
        if structure_name.strip():
            subscriber.structure_name = structure_name.strip()
        if preferences is not None:
            set_preferences(db, subscriber, **preferences)
        subscriber.status = SubscriberStatus.pending
        consent = _record(db, subscriber, "subscribe", request)
        history.record(db, subscriber, "subscribed", "Formulaire d'abonnement : e-mail de confirmation envoyé")
        _send_confirmation(db, subscriber, consent)  # names the new record: always send its link


RESEND_INTERVAL = timedelta(hours=1)


def _mailed_recently(db: Session, address: str, template: str) -> bool:
    """Whether the form already made this e-mail to this address within RESEND_INTERVAL."""
    return db.scalar(select(OutboundEmail.id).where(
        OutboundEmail.to_addr == address, OutboundEmail.template == template,
        OutboundEmail.created_at > utcnow() - RESEND_INTERVAL).limit(1)) is not None


def _pending_consent(db: Session, subscriber: Subscriber) -> ConsentRecord | None:
    """The subscription record a pending subscriber's link names (the latest), if any."""
    return db.scalar(select(ConsentRecord).where(
        ConsentRecord.subscriber_id == subscriber.id, ConsentRecord.action == "subscribe")
        .order_by(ConsentRecord.id.desc()).limit(1))


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
    _activate(db, subscriber)
    _record(db, subscriber, "confirm", request)
    history.record(db, subscriber, "confirmed", "Lien de confirmation suivi")
    send_welcome(db, subscriber)
    return ConfirmResult.confirmed


def _activate(db: Session, subscriber: Subscriber) -> None:
    subscriber.status = SubscriberStatus.active
    subscriber.confirmed_at = utcnow()
    subscriber.legal_basis = LegalBasis.consent
    touch(subscriber, subscriber.confirmed_at)
    signals.subscriber_confirmed.send(db, subscriber=subscriber)


def send_welcome(db: Session, subscriber: Subscriber) -> None:
    """The welcome mail (templates/email/subscription_welcome/, editable there): what the letter is,
    the links to the preferences and to unsubscribe. Leaves after COMMIT, through the outbox."""
    unsubscribe_url = urls.absolute(urls.unsubscribe_path(subscriber.unsubscribe_token))
    queue_email(db, "subscription_welcome", subscriber.email, {
        "subscriber": subscriber, "imported": False, "greeting": greeting(subscriber.name),
        "preferences_url": urls.absolute(urls.preferences_path(subscriber.unsubscribe_token)),
        "unsubscribe_url": unsubscribe_url,
    }, headers=letter_headers(unsubscribe_url))


def confirm_import(db: Session, subscriber: Subscriber, request: Request | None = None) -> ConfirmResult:
    """Someone an import brought in (pending) confirms with the button of /abonnement/valider/<token>
    (a POST: link scanners never confirm). Unsubscribed or suppressed: never brought back."""
    if subscriber.status is SubscriberStatus.active:
        return ConfirmResult.already
    if subscriber.status is not SubscriberStatus.pending:
        return ConfirmResult.invalid
    _activate(db, subscriber)
    record = _record(db, subscriber, "confirm", request)
    record.source = "import"
    record.details = {"via": "lien de confirmation envoyé après l'import", "import": subscriber.source}
    history.record(db, subscriber, "confirmed", "Lien de confirmation envoyé après l'import suivi")
    send_welcome(db, subscriber)
    return ConfirmResult.confirmed


def subscriber_of_confirmation(db: Session, token: str) -> Subscriber | None:
    """The subscriber a valid confirmation link names (for the page's link to the preferences)."""
    try:
        data = _serializer().loads(token, max_age=CONFIRMATION_MAX_AGE)
    except BadSignature:
        return None
    return db.get(Subscriber, data.get("s")) if isinstance(data, dict) else None


def by_unsubscribe_token(db: Session, token: str) -> Subscriber | None:
    if not token or len(token) > 64:
        return None
    return db.scalar(select(Subscriber).where(Subscriber.unsubscribe_token == token))


def unsubscribe(db: Session, subscriber: Subscriber, request: Request | None = None,
                via: str = "web", actor: str | None = None) -> bool:
    """Stop every letter to this subscriber at once. Returns False if they had already left."""
    if subscriber.status in (SubscriberStatus.unsubscribed, SubscriberStatus.suppressed):
        return False
    subscriber.status = SubscriberStatus.unsubscribed
    subscriber.unsubscribed_at = utcnow()
    _record(db, subscriber, f"unsubscribe:{via}", request)
    history.record(db, subscriber, "unsubscribed", UNSUBSCRIBE_VIA.get(via, via), actor)
    signals.subscriber_unsubscribed.send(db, subscriber=subscriber, via=via)
    return True


def set_preferences(db: Session, subscriber: Subscriber, topics: list[str] | None = None,
                    role: str | None = None, commune: str | None = None, departement: str | None = None,
                    actor: str | None = None) -> None:
    """Topics (keys of TOPICS; none = every topic), role (key of ROLES), commune and département
    (a code or a name, stored as its code: core.departements), all optional. Unknown keys and
    départements are dropped (the forms refuse them first). A change is written in the
    subscriber's history."""
    before = (list(subscriber.topics or []), subscriber.role, subscriber.commune, subscriber.departement)
    subscriber.topics = sorted({t for t in (topics or []) if t in TOPICS})
    subscriber.role = role if role in ROLES else None
    subscriber.commune = clean_commune(one_line(commune))[:120] or None
    subscriber.departement = departements.normalize(departement)
    if subscriber.id is not None and before != (subscriber.topics, subscriber.role, subscriber.commune,
                                                subscriber.departement):
        history.record(db, subscriber, "preferences", describe_preferences(subscriber), actor)
    db.flush()


def save_preferences(db: Session, subscriber: Subscriber, **preferences) -> None:
    """The subscriber saved their preferences themself (set_preferences' keywords): a sign of life."""
    set_preferences(db, subscriber, **preferences)
    touch(subscriber)


def reconsent(db: Session, subscriber: Subscriber, request: Request | None = None) -> bool:
    """The « Je reste abonné·e » button of the re-permission e-mail: a new proof of consent to the
    current text, and the retention clock starts again. False if they no longer receive the letter."""
    if subscriber.status is not SubscriberStatus.active:
        return False
    record_consent(db, subscriber, "reconsent", request, source="formulaire")
    touch(subscriber)
    db.flush()
    return True


UNSUBSCRIBE_VIA = {
    "web": "Lien de désabonnement (page web)",
    "one-click": "Désabonnement en un clic (messagerie)",
    "editor": "Par la rédaction",
}


def describe_preferences(subscriber: Subscriber) -> str:
    """The preferences in French words, for the history."""
    topics = ", ".join(TOPICS[t] for t in subscriber.topics or []) or "tous"
    role = ROLES.get(subscriber.role or "", "non indiquée")
    departement = departements.label(subscriber.departement) if subscriber.departement else "non indiqué"
    return (f"Thèmes : {topics} ; fonction : {role} ; commune : {subscriber.commune or 'non indiquée'} ; "
            f"département : {departement}")


def active_subscriber_count(db: Session) -> int:
    return db.scalar(select(func.count(Subscriber.id)).where(Subscriber.status == SubscriberStatus.active)) or 0
