"""The letter's rubriques, for admins (/redaction/rubriques): add, rename, reorder, and choose the
rubrique each kind of contribution lands in. Editors get 403."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.auth import admin_required
from contributions import rubriques
from contributions.models import KIND_LABELS, ContributionKind, Rubrique
from core.db import session
from core.forms import EmptyForm

rubriques_bp = Blueprint("rubriques", __name__, url_prefix="/redaction/rubriques")


def _checked_post() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


def _rubrique(rubrique_id: int) -> Rubrique:
    return session().get(Rubrique, rubrique_id) or abort(404)


def _back():
    return redirect(url_for(".index"))


@rubriques_bp.route("/")
@admin_required
def index():
    db = session()
    return render_template("redaction/rubriques.html", rubriques=rubriques.ordered(db),
                           defaults=rubriques.defaults(db), kinds=[(k, KIND_LABELS[k]) for k in ContributionKind])


@rubriques_bp.route("/", methods=["POST"])
@admin_required
def add():
    _checked_post()
    try:
        rubrique = rubriques.add(session(), current_user, request.form.get("label", ""))
    except rubriques.RubriqueError as exc:
        flash(str(exc), "error")
        return _back()
    flash(_("Rubrique « %(label)s » ajoutée, en dernier.", label=rubrique.label), "success")
    return _back()


@rubriques_bp.route("/<int:rubrique_id>/renommer", methods=["POST"])
@admin_required
def rename(rubrique_id: int):
    _checked_post()
    rubrique = _rubrique(rubrique_id)
    try:
        rubriques.rename(session(), current_user, rubrique, request.form.get("label", ""))
    except rubriques.RubriqueError as exc:
        flash(str(exc), "error")
        return _back()
    flash(_("Rubrique renommée « %(label)s ». Les lettres déjà envoyées gardent l'ancien nom.",
            label=rubrique.label), "success")
    return _back()


@rubriques_bp.route("/<int:rubrique_id>/monter", methods=["POST"])
@admin_required
def move_up(rubrique_id: int):
    _checked_post()
    rubriques.move(session(), current_user, _rubrique(rubrique_id), -1)
    return _back()


@rubriques_bp.route("/<int:rubrique_id>/descendre", methods=["POST"])
@admin_required
def move_down(rubrique_id: int):
    _checked_post()
    rubriques.move(session(), current_user, _rubrique(rubrique_id), +1)
    return _back()


@rubriques_bp.route("/par-defaut", methods=["POST"])
@admin_required
def set_defaults():
    _checked_post()
    db = session()
    by_slug = {r.slug: r for r in rubriques.ordered(db)}
    for kind in ContributionKind:
        slug = request.form.get(f"default-{kind.value}")
        if slug is None:
            continue
        if slug not in by_slug:
            flash(_("Rubrique inconnue pour « %(kind)s ».", kind=KIND_LABELS[kind]), "error")
            return _back()
        rubriques.set_default(db, current_user, kind, by_slug[slug])
    flash(_("Rubriques par défaut enregistrées."), "success")
    return _back()
