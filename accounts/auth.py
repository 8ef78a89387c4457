"""Accounts: log in by password or by an e-mailed link, partner invitations, roles, and the
guards the views use.

Links sent by e-mail are signed with itsdangerous and carry a fingerprint of the account's
`last_login_at`: logging in (by any means) changes it, so a link works once. A login link lives
15 minutes, an invitation 7 days. Following a link by GET only shows a page with a button; the
POST logs in, so a mail scanner that prefetches links spends nothing.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import re
from datetime import UTC
from functools import wraps
from urllib.parse import unquote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import (
    LoginManager,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from accounts.models import Role, User
from core import jobs, urls
from core.db import session, utcnow
from core.extensions import limiter
from core.settings import get_settings
from mailing.outbox import queue_email
from mailing.templates import render_email

auth_bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
login_manager.localize_callback = str  # evaluated in the request's language when flashed
login_manager.login_message_category = "info"

PASSWORD_MIN_LENGTH = 10
LOGIN_LINK_MAX_AGE = 15 * 60            # seconds
INVITATION_MAX_AGE = 7 * 24 * 3600      # seconds

_hasher = PasswordHasher()
# Verified when the address is unknown, so that a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("parentalites-dummy-password")


# --- Accounts (services) ------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalize_address(email: str | None) -> str:
    return (email or "").strip().lower()


def find_user(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalize_address(email)))


def record_login(db: Session, user: User) -> None:
    """Every login goes through here: it moves `last_login_at`, which spends outstanding links."""
    user.last_login_at = utcnow()
    db.flush()


def authenticate(db: Session, email: str, password: str) -> User | None:
    user = find_user(db, email)
    try:
        _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    record_login(db, user)
    return user


def create_user(db: Session, email: str, name: str, role: Role, password: str | None,
                structure_id: int | None = None) -> User:
    user = User(email=normalize_address(email), name=name, role=role, structure_id=structure_id,
                password_hash=hash_password(password) if password else None)
    db.add(user)
    db.flush()
    return user


class PasswordError(ValueError):
    """A password the rules refuse; the message says why, in French."""


def set_password(db: Session, user: User, password: str) -> None:
    """A new password ends every session of the account and spends every link sent before."""
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise PasswordError(f"Le mot de passe doit compter au moins {PASSWORD_MIN_LENGTH} caractères.")
    user.password_hash = hash_password(password)
    end_sessions(db, user)


def check_password(user: User, password: str) -> bool:
    try:
        return bool(user.password_hash) and _hasher.verify(user.password_hash or "", password or "")
    except (VerifyMismatchError, InvalidHashError):
        return False


# --- Links sent by e-mail (services) ------------------------------------------------------------

class LinkPurpose(enum.StrEnum):
    login = "login-link"
    invitation = "partner-invitation"


_MAX_AGE = {LinkPurpose.login: LOGIN_LINK_MAX_AGE, LinkPurpose.invitation: INVITATION_MAX_AGE}
_PATHS = {LinkPurpose.login: "/connexion/lien/", LinkPurpose.invitation: "/connexion/invitation/"}


class LinkProblem(enum.StrEnum):
    expired = "expired"
    used = "used"
    invalid = "invalid"
    inactive = "inactive"


class LinkError(Exception):
    def __init__(self, problem: LinkProblem):
        super().__init__(problem.value)
        self.problem = problem


def login_fingerprint(user: User) -> str:
    """Changes whenever the account logs in, logs out or changes its password: a link that carries
    it works once, and never after a password change."""
    stamp = user.last_login_at.astimezone(UTC).isoformat() if user.last_login_at else "-"
    return hashlib.sha256(f"{user.id}|{user.email}|{stamp}|{user.session_version or 0}".encode()).hexdigest()[:24]


def _serializer(purpose: LinkPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=purpose.value)


def make_link_token(user: User, purpose: LinkPurpose) -> str:
    return _serializer(purpose).dumps({"u": user.id, "f": login_fingerprint(user)})


def link_url(user: User, purpose: LinkPurpose) -> str:
    return urls.absolute(_PATHS[purpose] + make_link_token(user, purpose))


def check_link_token(db: Session, token: str, purpose: LinkPurpose) -> User:
    """The account a link opens, or LinkError saying why it opens nothing."""
    try:
        data = _serializer(purpose).loads(token, max_age=_MAX_AGE[purpose])
    except SignatureExpired:
        raise LinkError(LinkProblem.expired) from None
    except BadSignature:
        raise LinkError(LinkProblem.invalid) from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise LinkError(LinkProblem.invalid)
    user = db.get(User, data["u"])
    if user is None:
        raise LinkError(LinkProblem.invalid)
    if not user.active:  # first: deactivating also spends the links, but this says why
        raise LinkError(LinkProblem.inactive)
    if data.get("f") != login_fingerprint(user):
        raise LinkError(LinkProblem.used)
    return user


def send_login_link(db: Session, email: str) -> None:
    """E-mail a login link if the address is an active account; do as much work otherwise, and
    answer nothing either way (no account enumeration). The e-mail leaves after COMMIT."""
    user = find_user(db, email)
    if user is None or not user.active:
        # Same rendering cost as a real message, then dropped.
        render_email("login_link", {"user": User(email="", name="", role=Role.partner),
                                    "url": urls.absolute("/connexion/lien/-"), "minutes": LOGIN_LINK_MAX_AGE // 60}, db)
        return
    queue_email(db, "login_link", user.email, {
        "user": user, "url": link_url(user, LinkPurpose.login), "minutes": LOGIN_LINK_MAX_AGE // 60})


def login_link_rate_key() -> str:
    """Flask-Limiter key: the address asked for, so that nobody floods one mailbox."""
    return "login-link:" + normalize_address(request.form.get("email"))[:254]


# --- Guards ---------------------------------------------------------------------------------------

def end_sessions(db: Session, user: User) -> None:
    """Every session of the account ends (its id no longer matches), and every link e-mailed
    before stops working."""
    user.session_version = (user.session_version or 0) + 1
    db.flush()


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The account of a session id `<user id>:<session version>`; None when the account is closed,
    when the version has moved (logout, password change, deactivation) or the id is of another
    shape (a session from before versions)."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdecimal() and version.isdecimal()) or len(user_id) > 10:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or not hmac.compare_digest(str(user.session_version or 0), version):
        return None
    return user


def editor_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_editor:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def admin_required(view):
    """The pages that change who may do what (accounts, settings, rubriques, webhooks): an editor
    gets 403 there, by GET or by a forged POST alike."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def partner_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.structure_id is None:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


# --- Forms ----------------------------------------------------------------------------------------

class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired()])


class LoginLinkForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(message=_l("Indiquez votre adresse e-mail."))],
                       description=_l("L'adresse de votre compte partenaire ou de rédaction."))


class ConfirmLinkForm(FlaskForm):
    """The button that spends a link: carries the CSRF token only."""


class PasswordForm(FlaskForm):
    """A new password (invitation, or an account without one yet)."""

    password = PasswordField(_l("Nouveau mot de passe"), validators=[
        DataRequired(message=_l("Choisissez un mot de passe.")),
        Length(min=PASSWORD_MIN_LENGTH, max=512,
               message=_l("Entre %(min)s et %(max)s caractères.", min=PASSWORD_MIN_LENGTH, max=512))],
        description=_l("Au moins %(n)s caractères. Une phrase facile à retenir convient très bien.",
                       n=PASSWORD_MIN_LENGTH))
    password_confirm = PasswordField(_l("Confirmez le mot de passe"), validators=[
        DataRequired(message=_l("Tapez le mot de passe une seconde fois.")),
        EqualTo("password", message=_l("Les deux mots de passe ne sont pas identiques."))])


class ChangePasswordForm(PasswordForm):
    """A new password for an account that has one: the current one first."""
    current_password = PasswordField(_l("Mot de passe actuel"), validators=[
        DataRequired(message=_l("Tapez votre mot de passe actuel."))])

    field_order = ("current_password", "password", "password_confirm")


# --- Views ----------------------------------------------------------------------------------------

def _home_for(user: User) -> str:
    return url_for("redaction.dashboard") if user.is_editor else url_for("partners.home")


_NOT_IN_A_NEXT_PATH = re.compile(r"[\\\s\x00-\x1f\x7f-\x9f]")


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path of this site, else None. Browsers drop tabs and line breaks, read
    a backslash as a slash, and a step of percent-decoding may happen on the way: so the target
    is refused when, decoded once or twice, it holds any of these or could start with "//"."""
    if not target or not target.startswith("/"):
        return None
    forms = [target, unquote(target), unquote(unquote(target))]
    for form in forms:
        if _NOT_IN_A_NEXT_PATH.search(form) or form.startswith("//") or not form.startswith("/"):
            return None
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return None
    return target


@auth_bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(session(), form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or _home_for(user))
        flash(_("Adresse e-mail ou mot de passe incorrect."), "error")
    return render_template("auth/login.html", form=form)


LOGIN_LINK_TASK = "tasks.accounts.send_login_link"


@auth_bp.route("/connexion/lien", methods=["GET", "POST"])
@limiter.limit("5/minute;30/hour", methods=["POST"])
@limiter.limit("3 per 15 minutes", methods=["POST"], key_func=login_link_rate_key)
def request_link():
    form = LoginLinkForm()
    if form.validate_on_submit():
        # The same work whatever the address: one job; the worker looks the account up, renders
        # and queues the e-mail, or drops it (send_login_link). Neither the answer nor its time
        # tells whether an account exists.
        jobs.enqueue(session(), LOGIN_LINK_TASK, normalize_address(form.email.data)[:254])
        return render_template("auth/link_sent.html", minutes=LOGIN_LINK_MAX_AGE // 60)
    return render_template("auth/request_link.html", form=form), 422 if form.errors else 200


def _link_refused(error: LinkError, purpose: LinkPurpose):
    return render_template("auth/link_error.html", problem=error.problem.value, purpose=purpose.value), \
        410 if error.problem in (LinkProblem.expired, LinkProblem.used) else 400


def _log_in_by_link(db: Session, user: User, message: str):
    logout_user()
    record_login(db, user)  # spends the link
    login_user(user)
    flash(message, "success")
    return redirect(_home_for(user))


@auth_bp.route("/connexion/lien/<token>", methods=["GET", "POST"])
def follow_link(token: str):
    db = session()
    try:
        user = check_link_token(db, token, LinkPurpose.login)
    except LinkError as exc:
        return _link_refused(exc, LinkPurpose.login)
    form = ConfirmLinkForm()
    if form.validate_on_submit():
        return _log_in_by_link(db, user, _("Vous êtes connecté·e."))
    return render_template("auth/confirm_link.html", form=form, user=user)


@auth_bp.route("/connexion/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    db = session()
    try:
        user = check_link_token(db, token, LinkPurpose.invitation)
    except LinkError as exc:
        return _link_refused(exc, LinkPurpose.invitation)
    if request.form.get("action") == "continue" and ConfirmLinkForm().validate_on_submit():
        return _log_in_by_link(db, user, _(
            "Bienvenue ! Sans mot de passe, vous vous connecterez par un lien reçu par e-mail."))
    form = PasswordForm()
    if form.validate_on_submit():
        set_password(db, user, form.password.data)
        return _log_in_by_link(db, user, _("Mot de passe enregistré. Bienvenue !"))
    return render_template("auth/invitation.html", form=form, user=user), 422 if form.errors else 200


@auth_bp.route("/connexion/mot-de-passe", methods=["GET", "POST"])
@login_required
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm() if user.password_hash else PasswordForm()
    if form.validate_on_submit():
        if user.password_hash and not check_password(user, form.current_password.data):
            form.current_password.errors.append(_("Ce n'est pas votre mot de passe actuel."))
        else:
            set_password(session(), user, form.password.data)
            login_user(user)  # this session goes on, under the new version; the others end
            flash(_("Mot de passe enregistré."), "success")
            return redirect(_home_for(user))
    return render_template("auth/password.html", form=form), 422 if form.errors else 200


@auth_bp.route("/deconnexion", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        end_sessions(session(), current_user._get_current_object())
    logout_user()
    flash(_("Vous êtes déconnecté·e."), "info")
    return redirect(url_for("public.home"))
