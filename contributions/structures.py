"""Structures (the partners of the network) and their accounts: create and edit a structure,
invite a partner by e-mail, tell the editor how the structure's feed is doing."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.auth import (
    INVITATION_MAX_AGE,
    LinkPurpose,
    create_user,
    end_sessions,
    link_url,
    normalize_address,
)
from accounts.models import Role, User
from contributions.models import Contribution, Structure, StructureKind
from core import departements
from core.db import utcnow
from core.email_address import AddressRefused, checked_address
from core.settings import get_settings
from core.text import WEB_SCHEMES, safe_url, strip_controls
from mailing.outbox import queue_email


class StructureError(ValueError):
    """Data a structure cannot take; `field` names the form field, the message is in French."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class InvitationError(ValueError):
    """An invitation that would take an account from elsewhere; nothing was changed."""


@dataclass
class StructureData:
    name: str
    kind: StructureKind
    commune: str = ""
    departement: str = ""
    website: str | None = None
    feed_url: str | None = None


def _clean(data: StructureData) -> StructureData:
    name = " ".join(strip_controls(data.name).split())
    if not name:
        raise StructureError("Le nom de la structure est obligatoire.", "name")
    website = (data.website or "").strip() or None
    feed_url = (data.feed_url or "").strip() or None
    if website and not safe_url(website, WEB_SCHEMES):
        raise StructureError("Le site web doit être une adresse http:// ou https://.", "website")
    if feed_url and not safe_url(feed_url, WEB_SCHEMES):
        raise StructureError("Le flux doit être une adresse http:// ou https:// (RSS ou Atom).", "feed_url")
    return StructureData(name=name, kind=StructureKind(data.kind),
                         commune=" ".join(strip_controls(data.commune).split()),
                         departement=_departement(strip_controls(data.departement)),
                         website=website, feed_url=feed_url)


def _departement(value: str) -> str:
    """Stored by its code ("Seine-Saint-Denis" → "93"); refused when it names no département."""
    value = " ".join((value or "").split())
    if not value:
        return ""
    code = departements.normalize(value)
    if code is None:
        raise StructureError(f"Département inconnu : « {value} ». Indiquez son numéro (93) ou son nom "
                             "(Seine-Saint-Denis).", "departement")
    return code


def create_structure(db: Session, data: StructureData) -> Structure:
    """Create a structure; raises StructureError."""
    data = _clean(data)
    structure = Structure(**data.__dict__)
    db.add(structure)
    db.flush()
    return structure


def update_structure(db: Session, structure: Structure, data: StructureData) -> Structure:
    """Change a structure; a new feed address starts its polling state afresh."""
    data = _clean(data)
    if data.feed_url != structure.feed_url:
        structure.feed_etag = structure.feed_modified = None
        structure.feed_checked_at = structure.feed_ok_at = None
        structure.feed_warning = structure.feed_error = None
        structure.feed_failures = 0
    for key, value in data.__dict__.items():
        setattr(structure, key, value)
    db.flush()
    return structure


@dataclass
class StructureRow:
    structure: Structure
    partner_count: int
    contribution_count: int

    @property
    def feed_status(self) -> str | None:
        return feed_status(self.structure)


def structures_overview(db: Session) -> list[StructureRow]:
    """Every structure by name, with how many partner accounts and contributions it has."""
    partners = (select(User.structure_id, func.count().label("n")).where(User.structure_id.is_not(None))
                .group_by(User.structure_id).subquery())
    contributions = (select(Contribution.structure_id, func.count().label("n"))
                     .group_by(Contribution.structure_id).subquery())
    query = (select(Structure, func.coalesce(partners.c.n, 0), func.coalesce(contributions.c.n, 0))
             .outerjoin(partners, partners.c.structure_id == Structure.id)
             .outerjoin(contributions, contributions.c.structure_id == Structure.id)
             .order_by(func.lower(Structure.name), Structure.id))
    return [StructureRow(s, p, c) for s, p, c in db.execute(query)]


def structure_members(db: Session, structure: Structure) -> list[User]:
    return list(db.scalars(select(User).where(User.structure_id == structure.id).order_by(User.name, User.id)))


def structure_contributions(db: Session, structure: Structure) -> list[Contribution]:
    return list(db.scalars(select(Contribution).where(Contribution.structure_id == structure.id)
                           .order_by(Contribution.updated_at.desc(), Contribution.id.desc())))


# The feed column of the editor's list. Another service (contributions/feeds.py) writes the state.
FEED_STATUS_LABELS = {
    "ok": "OK",
    "warning": "Avertissement",
    "failing": "En échec",
    "pending": "Pas encore relevé",
}


def feed_status(structure: Structure) -> str | None:
    """None without a feed; "failing" once the polls failed FEED_FAILURE_THRESHOLD times in a row
    (the editors were told); "warning" after fewer failures, or when the last poll parsed a
    malformed feed; "ok" when it was read; "pending" before the first poll."""
    if not structure.feed_url:
        return None
    if (structure.feed_failures or 0) >= getattr(get_settings(), "feed_failure_threshold", 3):
        return "failing"
    if structure.feed_failures or structure.feed_warning:
        return "warning"
    if structure.feed_ok_at:
        return "ok"
    return "pending"


# --- Invitations ------------------------------------------------------------------------------

def normalize_invited_address(raw: str) -> str:
    try:
        return normalize_address(checked_address(raw, test_environment=True))
    except AddressRefused as exc:
        raise InvitationError(str(exc)) from exc


def invite_partner(db: Session, structure: Structure, email: str, name: str,
                   invited_by: User | None = None) -> User:
    """Attach a partner account to the structure (created without a password if the address has
    none) and e-mail it a 7-day invitation link. Inviting again sends a new link. An address that
    belongs to an editor or to another structure raises InvitationError and changes nothing.
    The e-mail leaves after COMMIT."""
    address = normalize_invited_address(email)
    name = " ".join((name or "").split())
    user = db.scalar(select(User).where(User.email == address))
    if user is not None:
        if user.is_editor:
            raise InvitationError(
                "Cette adresse est celle d'un compte de la rédaction : elle ne peut pas devenir un compte partenaire.")
        if user.structure_id not in (None, structure.id):
            raise InvitationError(
                f"Cette adresse a déjà un compte partenaire pour une autre structure "
                f"({user.structure.name}). Rien n'a été changé.")
        user.structure_id = structure.id
        user.active = True  # an editor's explicit invitation re-opens a closed account
        if name:
            user.name = name
    else:
        if not name:
            raise InvitationError("Indiquez le nom de la personne invitée.")
        user = create_user(db, address, name, Role.partner, None, structure.id)
    user.invited_at = utcnow()
    db.flush()
    queue_email(db, "partner_invitation", user.email, {
        "user": user, "structure": structure, "url": link_url(user, LinkPurpose.invitation),
        "days": INVITATION_MAX_AGE // 86400, "inviter_name": invited_by.name if invited_by else None,
    })
    return user


def set_account_active(db: Session, structure: Structure, user: User, active: bool) -> None:
    """Close or re-open a partner account of the structure."""
    if user.structure_id != structure.id or user.is_editor:
        raise InvitationError("Ce compte n'appartient pas à cette structure.")
    if user.active and not active:
        end_sessions(db, user)  # its open sessions end now, not at their next login
    user.active = active
    db.flush()
