"""Accounts: log in by password at /connexion, roles, and the guards the views use."""
from __future__ import annotations

from functools import wraps

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from newsletter.db import session, utcnow
from newsletter.extensions import limiter
from newsletter.models import Role, User

auth_bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Connectez-vous pour accéder à cette page.")
login_manager.localize_callback = str  # evaluated in the request's language when flashed
login_manager.login_message_category = "info"

_hasher = PasswordHasher()
# Verified when the address is unknown, so that a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("parentalites-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(db: Session, email: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    user.last_login_at = utcnow()
    db.commit()
    return user


def create_user(db: Session, email: str, name: str, role: Role, password: str | None,
                structure_id: int | None = None) -> User:
    user = User(email=email.strip().lower(), name=name, role=role, structure_id=structure_id,
                password_hash=hash_password(password) if password else None)
    db.add(user)
    db.flush()
    return user


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return session.get(User, int(user_id))


def editor_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_editor:
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


class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired()])


def _home_for(user: User) -> str:
    return url_for("redaction.dashboard") if user.is_editor else url_for("partners.home")


def _safe_next(target: str | None) -> str | None:
    return target if target and target.startswith("/") and not target.startswith("//") else None


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
            return redirect(_safe_next(request.args.get("next")) or _home_for(user))
        flash(_("Adresse e-mail ou mot de passe incorrect."), "error")
    return render_template("auth/login.html", form=form)


@auth_bp.route("/deconnexion", methods=["POST"])
def logout():
    logout_user()
    flash(_("Vous êtes déconnecté·e."), "info")
    return redirect(url_for("public.home"))
