"""The editors' pages on content (/redaction/contributions/): edit any contribution, write the
network's own article, accept a network draft once completed (the « Retour sur… »)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.auth import editor_required
from contributions import editing, revisions, services, uploads
from contributions.forms import FORMS, KIND_DESCRIPTIONS, BaseContributionForm, FicheActionForm
from contributions.models import KIND_LABELS, Contribution, ContributionKind
from contributions.views import _check_file, _chosen_file, _data, _fill, kind_from_slug, kind_slug
from core import site_settings
from core.db import session
from core.web import ids

editing_bp = Blueprint("editing", __name__, url_prefix="/redaction/contributions")


@editing_bp.app_template_global()
def contribution_revisions(contribution: Contribution) -> list[dict]:
    """The editors' edits, newest first, each with its field diffs (accessible HTML)."""
    added, removed = _("ajouté"), _("supprimé")
    shown = []
    for revision in reversed(contribution.revisions):
        diffs = [(label, revisions.diff_html(revision.before.get(name) or "", revision.after.get(name) or "",
                                             added, removed))
                 for name, label in revisions.FIELDS
                 if (revision.before.get(name) or "") != (revision.after.get(name) or "")]
        shown.append({"revision": revision, "diffs": diffs})
    return shown


def _alt_texts() -> dict[int, str]:
    """The descriptions of the images already attached, as edited (alt-<file id> fields)."""
    found = {}
    for key, value in request.form.items():
        if key.startswith("alt-") and key[4:].isdigit():
            found[int(key[4:])] = value
    return found


def _render(form: BaseContributionForm, contribution: Contribution | None, kind: ContributionKind, status=200,
            chosen=None, stale: Contribution | None = None, version: int | None = None):
    return render_template(
        "moderation/edit.html", form=form, contribution=contribution, kind=kind, kind_label=KIND_LABELS[kind],
        chosen=chosen, stale_diffs=_stale_diffs(stale, form) if stale is not None else None,
        version=version if version is not None else (contribution.version if contribution else None),
        alt_texts=_alt_texts(), network_name=site_settings.current().network_name,
        is_network=editing.is_network(contribution) if contribution else True), status


def _stale_diffs(saved: Contribution, form: BaseContributionForm) -> list:
    """What differs between the saved version (the other editor's) and the text in the form."""
    theirs = revisions.snapshot(saved)
    try:
        data = _data(form)
    except (ValueError, AttributeError):
        return []
    mine = dict(theirs, title=data.title, body_md=data.body_md, link=data.link or "")
    return [(label, revisions.diff_html(theirs.get(name) or "", mine.get(name) or "", _("ajouté"), _("supprimé")))
            for name, label in revisions.FIELDS if (theirs.get(name) or "") != (mine.get(name) or "")]


@editing_bp.route("/<int:contribution_id>/modifier", methods=["GET", "POST"])
@editor_required
def edit(contribution_id: int):
    db = session()
    contribution = db.get(Contribution, contribution_id) or abort(404)
    kind = contribution.kind
    form = FORMS[kind]()
    if request.method == "GET":
        editing.mark_opened(db, current_user, contribution)
        _fill(form, contribution)
        return _render(form, contribution, kind)
    form.submitting = contribution.status.value != "draft"
    chosen = _chosen_file(form)
    valid = form.validate_on_submit()
    files, chosen = _check_file(form, chosen) if valid else (None, chosen)
    if not valid or files is None:
        return _render(form, contribution, kind, 422, chosen=chosen, version=request.form.get("version", type=int))
    try:
        revision = editing.edit(db, current_user, contribution, _data(form),
                                version=request.form.get("version", type=int), files=files,
                                remove_file_ids=set(ids(request.form.getlist("remove_file"))),
                                alt_texts=_alt_texts())
    except editing.StaleEdit as exc:
        flash(str(exc), "error")
        saved = exc.contribution
        # The next save, from this page, replaces the saved version knowingly.
        return _render(form, saved, kind, 409, chosen=chosen, stale=saved, version=saved.version)
    except services.ModerationError as exc:
        flash(str(exc), "error")
        return _render(form, contribution, kind, 422, chosen=chosen, version=request.form.get("version", type=int))
    if chosen is not None:
        uploads.drop_pending(chosen.token, current_user.id)
    if request.form.get("action") == "accept" and editing.is_network(contribution):
        try:
            editing.accept_network_article(db, current_user, contribution)
        except services.ModerationError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".edit", contribution_id=contribution.id))
        flash(_("Article enregistré et accepté : il peut être placé dans une lettre."), "success")
    elif revision is None:
        flash(_("Aucun changement : rien n'a été enregistré."), "info")
    else:
        flash(_("Modifications enregistrées. La version du partenaire est conservée dans l'historique."), "success")
    return redirect(url_for("moderation.review", contribution_id=contribution.id))


@editing_bp.route("/nouvel-article")
@editor_required
def choose_kind():
    kinds = [(kind, KIND_LABELS[kind], KIND_DESCRIPTIONS[kind], kind_slug(kind)) for kind in ContributionKind]
    return render_template("moderation/new_article.html", kinds=kinds)


@editing_bp.route("/nouvel-article/<slug>", methods=["GET", "POST"])
@editor_required
def new_article(slug: str):
    """The network's own article: signed by the network, no structure needed."""
    kind = kind_from_slug(slug)
    form = FORMS[kind]()
    if request.method == "GET":
        if isinstance(form, FicheActionForm):
            form.departement.data = None
        return _render(form, None, kind)
    accept = request.form.get("action") != "draft"
    form.submitting = accept
    chosen = _chosen_file(form)
    valid = form.validate_on_submit()
    files, chosen = _check_file(form, chosen) if valid else (None, chosen)
    if not valid or files is None:
        return _render(form, None, kind, 422, chosen=chosen)
    try:
        contribution = editing.create_network_article(session(), current_user, _data(form), accept=accept, files=files)
    except services.ModerationError as exc:
        flash(str(exc), "error")
        return _render(form, None, kind, 422, chosen=chosen)
    if chosen is not None:
        uploads.drop_pending(chosen.token, current_user.id)
    flash(_("Article du réseau enregistré et accepté : il peut être placé dans une lettre.") if accept else
          _("Brouillon de l'article du réseau enregistré."), "success")
    return redirect(url_for("moderation.review", contribution_id=contribution.id))

