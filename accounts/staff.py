"""The editorial team's accounts (editors and admins), run by an admin from /redaction/comptes:
invite by e-mail (the partner invitation's link and page), change a role, deactivate, reactivate.

One rule guards the rest: there is always at least one active admin. Every change that could take
the last one away reads the active admins FOR UPDATE first, so two admins demoting each other at
the same moment cannot both succeed. Deactivating moves `session_version`: the account's open
sessions end at their next request. Each change is journaled in the caller's transaction.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import journal
from accounts.auth import (
    INVITATION_MAX_AGE,
    LinkPurpose,
    create_user,
    end_sessions,
    link_url,
    normalize_address,
)
from accounts.models import Role, User
from core.db import utcnow
from core.email_address import AddressRefused, checked_address
from core.settings import get_settings
from mailing.outbox import queue_email

STAFF_ROLES = (Role.editor, Role.admin)
ROLE_LABELS = {Role.editor: "rédaction", Role.admin: "administration", Role.partner: "partenaire"}

journal.register_actions({
    "account.invited": _l("Compte invité"),
    "account.role_changed": _l("Rôle changé"),
    "account.deactivated": _l("Compte désactivé"),
    "account.reactivated": _l("Compte réactivé"),
})


class AccountError(ValueError):
    """A change the rules refuse; the message says why, in French, and nothing was changed."""


def staff_accounts(db: Session) -> list[User]:
    """Editors and admins, the active first, then by name."""
    return list(db.scalars(select(User).where(User.role.in_(STAFF_ROLES))
                           .order_by(User.active.desc(), User.name, User.id)))


def _other_active_admins(db: Session, user: User) -> int:
    query = select(User.id).where(User.role == Role.admin, User.active, User.id != user.id)
    if not get_settings().is_sqlite:
        query = query.with_for_update()  # the admins are read locked: two demotions queue up
    return len(db.scalars(query).all())


def _keep_an_admin(db: Session, user: User, actor: User) -> None:
    if user.role is Role.admin and user.active and _other_active_admins(db, user) == 0:
        if user.id == actor.id:
            raise AccountError("Vous êtes le seul compte d'administration actif : nommez d'abord un autre "
                               "administrateur ou une autre administratrice. Rien n'a été changé.")
        raise AccountError("C'est le seul compte d'administration actif : il doit en rester un. Rien n'a été changé.")


def invite(db: Session, actor: User, email: str, name: str, role: Role) -> User:
    """Create (or re-open) an editor or admin account and e-mail it a 7-day invitation link, the
    same link and page as a partner's. A partner's address is refused: its structure's history
    would be mixed with the editorial team's. The e-mail leaves after COMMIT."""
    if role not in STAFF_ROLES:
        raise AccountError("Choisissez le rôle « rédaction » ou « administration ».")
    try:
        address = normalize_address(checked_address(email, test_environment=True))
    except AddressRefused as exc:
        raise AccountError(str(exc)) from exc
    name = " ".join((name or "").split())
    user = db.scalar(select(User).where(User.email == address))
    if user is not None:
        if not user.is_editor:
            raise AccountError("Cette adresse est celle d'un compte partenaire : invitez une autre adresse. "
                               "Rien n'a été changé.")
        if user.role is not role:
            change_role(db, actor, user, role)
        if not user.active:
            reactivate(db, actor, user)
        if name:
            user.name = name
    else:
        if not name:
            raise AccountError("Indiquez le nom de la personne invitée.")
        user = create_user(db, address, name, role, None)
    user.invited_at = utcnow()
    db.flush()
    queue_email(db, "account_invitation", user.email, {
        "user": user, "role_label": ROLE_LABELS[role], "url": link_url(user, LinkPurpose.invitation),
        "days": INVITATION_MAX_AGE // 86400, "inviter_name": actor.name,
    })
    journal.record(db, actor, "account.invited",
                   f"Invitation envoyée à {user.name} <{user.email}> ({ROLE_LABELS[role]})",
                   target=f"user:{user.id}", details={"role": role.value})
    return user


def change_role(db: Session, actor: User, user: User, role: Role) -> None:
    if role not in STAFF_ROLES or not user.is_editor:
        raise AccountError("Seuls les rôles « rédaction » et « administration » se changent ici.")
    if user.role is role:
        return
    if role is not Role.admin:
        _keep_an_admin(db, user, actor)
    before = user.role
    user.role = role
    db.flush()
    journal.record(db, actor, "account.role_changed",
                   f"Rôle de {user.name} <{user.email}> : {ROLE_LABELS[before]} → {ROLE_LABELS[role]}",
                   target=f"user:{user.id}", details={"from": before.value, "to": role.value})


def deactivate(db: Session, actor: User, user: User) -> None:
    """The account can no longer log in, and its open sessions end now (their version no longer
    matches); its links stop working. Its history stays."""
    if not user.is_editor:
        raise AccountError("Les comptes partenaires se ferment depuis la page de leur structure.")
    if not user.active:
        return
    _keep_an_admin(db, user, actor)
    user.active = False
    end_sessions(db, user)
    journal.record(db, actor, "account.deactivated", f"Compte désactivé : {user.name} <{user.email}>",
                   target=f"user:{user.id}")


def reactivate(db: Session, actor: User, user: User) -> None:
    if not user.is_editor:
        raise AccountError("Les comptes partenaires se rouvrent depuis la page de leur structure.")
    if user.active:
        return
    user.active = True
    db.flush()
    journal.record(db, actor, "account.reactivated", f"Compte réactivé : {user.name} <{user.email}>",
                   target=f"user:{user.id}")
