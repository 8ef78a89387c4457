"""The admin's page of the editorial team's accounts (/redaction/comptes): the list, an invitation
form, and per account a role, deactivate and reactivate. Admins only: an editor gets 403, by GET
or by a forged POST."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from accounts import staff
from accounts.auth import admin_required
from accounts.models import Role, User
from core.db import session
from core.forms import EmptyForm

accounts_bp = Blueprint("accounts", __name__, url_prefix="/redaction/comptes")


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(Role.editor.value, _l("Rédaction")), SelectChoice(Role.admin.value, _l("Administration"))]


class InviteStaffForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[
        DataRequired(message=_l("Indiquez l'adresse e-mail de la personne.")), Length(max=254)])
    name = StringField(_l("Nom et prénom"), validators=[Optional(), Length(max=200)],
                       description=_l("Obligatoire pour une nouvelle adresse."))
    role = SelectField(_l("Rôle"), choices=_role_choices(), default=Role.editor.value,
                       description=_l("La rédaction modère, compose et envoie ; l'administration gère "
                                      "en plus les comptes et les paramètres."))


class RoleForm(FlaskForm):
    role = SelectField(_l("Rôle"), choices=_role_choices())


def _account(user_id: int) -> User:
    user = session().get(User, user_id)
    if user is None or not user.is_editor:
        abort(404)
    return user


def _page(form: InviteStaffForm, status: int = 200):
    return render_template("redaction/accounts.html", accounts=staff.staff_accounts(session()), form=form,
                           role_form=RoleForm, button=EmptyForm()), status


@accounts_bp.route("/", methods=["GET", "POST"])
@admin_required
def index():
    form = InviteStaffForm()
    if form.validate_on_submit():
        try:
            user = staff.invite(session(), current_user._get_current_object(), form.email.data,
                                form.name.data or "", Role(form.role.data))
        except staff.AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(_("Invitation envoyée à %(email)s.", email=user.email), "success")
            return redirect(url_for(".index"))
    return _page(form, 422 if form.errors else 200)


def _apply(user_id: int, change) -> object:
    user = _account(user_id)
    try:
        change(user)
    except staff.AccountError as exc:
        flash(str(exc), "error")
        # 409: nothing changed; the page rolls back (and shows why).
        return _page(InviteStaffForm(formdata=None), 409)
    if not (current_user.is_admin and current_user.active):  # an admin who stepped down
        return redirect(url_for("redaction.dashboard"))
    return redirect(url_for(".index") + f"#compte-{user.id}")


@accounts_bp.route("/<int:user_id>/role", methods=["POST"])
@admin_required
def change_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    actor = current_user._get_current_object()

    def change(user: User) -> None:
        staff.change_role(session(), actor, user, Role(form.role.data))
        flash(_("Rôle de %(name)s enregistré.", name=user.name), "success")
    return _apply(user_id, change)


@accounts_bp.route("/<int:user_id>/desactiver", methods=["POST"])
@admin_required
def deactivate(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    actor = current_user._get_current_object()

    def change(user: User) -> None:
        staff.deactivate(session(), actor, user)
        flash(_("Compte de %(name)s désactivé : ses sessions sont fermées.", name=user.name), "success")
    return _apply(user_id, change)


@accounts_bp.route("/<int:user_id>/reactiver", methods=["POST"])
@admin_required
def reactivate(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    actor = current_user._get_current_object()

    def change(user: User) -> None:
        staff.reactivate(session(), actor, user)
        flash(_("Compte de %(name)s réactivé.", name=user.name), "success")
    return _apply(user_id, change)
