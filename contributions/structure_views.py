"""The editor's administration of structures (/redaction/structures/): list, create, edit, a page
per structure with its accounts, contributions and feed state, and partner invitations."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from accounts import journal
from accounts.auth import editor_required
from accounts.models import User
from contributions import structures as service
from contributions.models import STRUCTURE_KIND_LABELS, Structure, StructureKind
from core import departements
from core.db import session
from core.forms import EmptyForm, KnownDepartement

structures_bp = Blueprint("structures", __name__, url_prefix="/redaction/structures")

journal.register_actions({"partner.invited": _l("Partenaire invité"),
                          "partner.deactivated": _l("Compte partenaire désactivé"),
                          "partner.reactivated": _l("Compte partenaire réactivé")})


class StructureForm(FlaskForm):
    name = StringField(_l("Nom de la structure"), validators=[
        DataRequired(message=_l("Le nom de la structure est obligatoire.")), Length(max=200)])
    # A required select starts with an empty choice (HTML: its first option is the placeholder), so
    # that nobody is a « centre social » by default.
    kind = SelectField(_l("Type de structure"), validators=[
        DataRequired(message=_l("Choisissez le type de structure."))], render_kw={"required": True},
        choices=[SelectChoice("", _l("— Choisir —")),
                 *(SelectChoice(kind.value, label) for kind, label in STRUCTURE_KIND_LABELS.items())])
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=120)])
    departement = StringField(_l("Département"), validators=[Optional(), Length(max=80), KnownDepartement()],
                              description=_l("Son numéro ou son nom, par exemple : 93 ou Seine-Saint-Denis."))
    website = URLField(_l("Site web"), validators=[Optional(), Length(max=500)],
                       description=_l("Adresse complète, commençant par https://"))
    feed_url = URLField(_l("Flux RSS ou Atom (facultatif)"), validators=[Optional(), Length(max=500)],
                        description=_l("Les nouveaux articles du flux arrivent dans la file de modération, "
                                       "marqués comme venant du flux."))

    def data_object(self) -> service.StructureData:
        return service.StructureData(
            name=self.name.data or "", kind=StructureKind(self.kind.data), commune=self.commune.data or "",
            departement=self.departement.data or "", website=self.website.data, feed_url=self.feed_url.data)


class InviteForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[
        DataRequired(message=_l("Indiquez l'adresse e-mail de la personne.")), Length(max=254)])
    name = StringField(_l("Nom et prénom"), validators=[Optional(), Length(max=200)],
                       description=_l("Obligatoire pour une nouvelle adresse ; pour un compte existant, "
                                      "laisser vide garde le nom actuel."))


@structures_bp.app_template_global("structure_feed_status")
def structure_feed_status(structure: Structure) -> str | None:
    return service.feed_status(structure)


def _structure(structure_id: int) -> Structure:
    return session().get(Structure, structure_id) or abort(404)


def _save(form: StructureForm, structure: Structure | None) -> Structure | None:
    try:
        if structure is None:
            return service.create_structure(session(), form.data_object())
        return service.update_structure(session(), structure, form.data_object())
    except service.StructureError as exc:
        session().rollback()
        getattr(form, exc.field or "name").errors.append(str(exc))
        return None


# --- Structures -------------------------------------------------------------------------------

@structures_bp.route("/")
@editor_required
def index():
    return render_template("structures/index.html", rows=service.structures_overview(session()),
                           kind_labels=STRUCTURE_KIND_LABELS)


@structures_bp.route("/nouvelle", methods=["GET", "POST"])
@editor_required
def create():
    form = StructureForm()
    if form.validate_on_submit():
        structure = _save(form, None)
        if structure is not None:
            flash(_("Structure « %(name)s » créée. Invitez maintenant ses partenaires.", name=structure.name),
                  "success")
            return redirect(url_for(".show", structure_id=structure.id))
    return render_template("structures/form.html", form=form, structure=None), 422 if form.errors else 200


@structures_bp.route("/<int:structure_id>")
@editor_required
def show(structure_id: int):
    structure = _structure(structure_id)
    return render_template(
        "structures/show.html", structure=structure, kind_labels=STRUCTURE_KIND_LABELS,
        members=service.structure_members(session(), structure),
        contributions=service.structure_contributions(session(), structure), action_form=EmptyForm())


@structures_bp.route("/<int:structure_id>/modifier", methods=["GET", "POST"])
@editor_required
def edit(structure_id: int):
    structure = _structure(structure_id)
    form = StructureForm(obj=structure)
    if not form.is_submitted():
        form.kind.data = structure.kind.value
        form.departement.data = departements.label(structure.departement)
    if form.validate_on_submit() and _save(form, structure) is not None:
        flash(_("Structure enregistrée."), "success")
        return redirect(url_for(".show", structure_id=structure.id))
    return render_template("structures/form.html", form=form, structure=structure), 422 if form.errors else 200


# --- Partner accounts --------------------------------------------------------------------------

@structures_bp.route("/<int:structure_id>/inviter", methods=["GET", "POST"])
@editor_required
def invite(structure_id: int):
    structure = _structure(structure_id)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user = service.invite_partner(session(), structure, form.email.data, form.name.data or "",
                                          invited_by=current_user)
        except service.InvitationError as exc:
            session().rollback()
            form.email.errors.append(str(exc))
        else:
            journal.record(session(), current_user._get_current_object(), "partner.invited",
                           f"Invitation envoyée à {user.name} <{user.email}> pour {structure.name}",
                           target=f"user:{user.id}", details={"structure": structure.id})
            flash(_("Invitation envoyée à %(email)s. Le lien est valable 7 jours.", email=user.email), "success")
            return redirect(url_for(".show", structure_id=structure.id))
    return render_template("structures/invite.html", form=form, structure=structure), 422 if form.errors else 200


def _set_active(structure_id: int, user_id: int, active: bool):
    structure = _structure(structure_id)
    user = session().get(User, user_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        service.set_account_active(session(), structure, user, active)
    except service.InvitationError:
        abort(404)
    journal.record(session(), current_user._get_current_object(),
                   "partner.reactivated" if active else "partner.deactivated",
                   f"Compte partenaire {'réactivé' if active else 'désactivé'} : {user.name} <{user.email}> "
                   f"({structure.name})", target=f"user:{user.id}")
    flash(_("Compte de %(email)s réactivé.", email=user.email) if active
          else _("Compte de %(email)s désactivé : il ne peut plus se connecter.", email=user.email), "success")
    return redirect(url_for(".show", structure_id=structure.id) + "#comptes")


@structures_bp.route("/<int:structure_id>/comptes/<int:user_id>/desactiver", methods=["POST"])
@editor_required
def deactivate(structure_id: int, user_id: int):
    return _set_active(structure_id, user_id, False)


@structures_bp.route("/<int:structure_id>/comptes/<int:user_id>/reactiver", methods=["POST"])
@editor_required
def reactivate(structure_id: int, user_id: int):
    return _set_active(structure_id, user_id, True)
