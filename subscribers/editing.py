"""What an editor does to one subscriber from their page: edit, unsubscribe, lift a suppression.
Each action is written in the subscriber's history with the editor's address as actor.

Lifting a suppression (a bounce or a complaint stopped the address; the editor learned it works
again, e.g. the mailbox was full for a while) sets the status the person would have without it:

- `unsubscribed` when they withdrew consent after their last confirmation (an unsubscription, or a
  complaint, which counts as one): lifting a suppression never gives a consent back;
- `active` when they had confirmed (double opt-in) or have a recorded legal basis (an import with a
  consent proof, or legitimate interest);
- `pending` otherwise: they never confirmed, so nothing is sent to them but a new confirmation,
  which they get by subscribing again (pending subscriptions are erased after 30 days).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers import history, services
from subscribers.directory import clean_departement
from subscribers.models import ROLES, TOPICS, Subscriber, SubscriberStatus
from subscribers.segments import clean_commune

MAX_REASON = 500


class EditError(ValueError):
    """The change cannot be made; `field` names the form field, the message is French."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class Changes:
    email: str
    name: str = ""
    structure_name: str = ""
    topics: list[str] | None = None
    role: str | None = None
    commune: str | None = None
    departement: str | None = None


def _show(key: str, value: object) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return ", ".join(TOPICS.get(str(v), str(v)) for v in value)
    if key == "role":
        return ROLES.get(str(value), str(value))
    return str(value)


def edit(db: Session, subscriber: Subscriber, changes: Changes, actor: str) -> list[str]:
    """Apply the editor's changes; returns what changed (French, also written in the history).
    Raises EditError (nothing changed) for an invalid or taken address or a bad département."""
    try:
        address = services.normalize_email(changes.email)
    except services.InvalidEmail as exc:
        raise EditError("email", str(exc)) from exc
    if address != subscriber.email and db.scalar(
            select(Subscriber.id).where(Subscriber.email == address, Subscriber.id != subscriber.id)):
        raise EditError("email", "Cette adresse est déjà celle d'un autre abonné.")
    departement = None
    if (changes.departement or "").strip():
        departement = clean_departement(changes.departement)
        if departement is None:
            raise EditError("departement", "Département inconnu : indiquez un code comme 93, 2A ou 971.")
    new: dict[str, object] = {
        "email": address,
        "name": services.one_line(changes.name)[:200],
        "structure_name": services.one_line(changes.structure_name)[:200],
        "topics": sorted({t for t in (changes.topics or []) if t in TOPICS}),
        "role": changes.role if changes.role in ROLES else None,
        "commune": clean_commune(services.one_line(changes.commune))[:120] or None,
        "departement": departement,
    }
    labels = {"email": "Adresse", "name": "Nom", "structure_name": "Structure", "topics": "Thèmes",
              "role": "Fonction", "commune": "Commune", "departement": "Département"}
    done = []
    for key, value in new.items():
        old = getattr(subscriber, key)
        if (old or None) != (value or None):
            done.append(f"{labels[key]} : {_show(key, old)} → {_show(key, value)}")
            setattr(subscriber, key, value)
    if done:
        history.record(db, subscriber, "edited", " ; ".join(done), actor)
        db.flush()
    return done


def unsubscribe(db: Session, subscriber: Subscriber, actor: str) -> bool:
    """Unsubscribe them on their behalf (a request by mail or phone). False if they had left."""
    return services.unsubscribe(db, subscriber, via="editor", actor=actor)


def status_after_lifting(subscriber: Subscriber) -> SubscriberStatus:
    """See the module's docstring."""
    left = subscriber.unsubscribed_at
    confirmed = subscriber.confirmed_at
    if left is not None and (confirmed is None or left >= confirmed):
        return SubscriberStatus.unsubscribed
    if confirmed is not None or subscriber.legal_basis is not None:
        return SubscriberStatus.active
    return SubscriberStatus.pending


def lift_suppression(db: Session, subscriber: Subscriber, reason: str, actor: str) -> SubscriberStatus:
    """Lift a suppression with the editor's reason (required). Returns the new status."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise EditError("reason", "Indiquez pourquoi la suspension est levée.")
    if len(reason) > MAX_REASON:
        raise EditError("reason", f"Le motif est trop long ({MAX_REASON} caractères au plus).")
    if subscriber.status is not SubscriberStatus.suppressed:
        raise EditError("reason", "Cette adresse n'est pas suspendue.")
    status = status_after_lifting(subscriber)
    was = subscriber.suppressed_reason or "motif non enregistré"
    subscriber.status = status
    subscriber.suppressed_reason = None
    subscriber.suppressed_at = None
    history.record(db, subscriber, "unsuppressed",
                   f"Motif : {reason} (suspendue pour : {was} ; nouveau statut : {status.value})", actor)
    db.flush()
    return status
