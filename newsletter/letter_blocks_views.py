"""The composer's blocks (free text, banner, button, « À la une »), the side-by-side previews at
desktop and phone width, and the banners' public images. Kept apart from newsletter/views.py: the
composer page includes the partials `redaction/_letter_blocks.html` and `_letter_preview.html`,
which read `letter_blocks_panel(issue)`."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from accounts.auth import editor_required
from core.db import session
from core.forms import EmptyForm
from newsletter import letter_blocks
from newsletter.letter_blocks import BlockError, BlockKind, IssueBlock
from newsletter.models import Issue

letter_blocks_bp = Blueprint("letter_blocks", __name__)


class BlockForm(FlaskForm):
    kind = HiddenField(_l("Bloc"))
    placement = SelectField(_l("Emplacement"), choices=[], validate_choice=False)
    title = StringField(_l("Intertitre (facultatif)"))
    body_md = TextAreaField(_l("Texte"), description=_l(
        "En Markdown : **gras**, *italique*, [lien](https://…), listes avec « - »."))
    label = StringField(_l("Texte du bouton"), description=_l("Court et explicite : « S'inscrire à la journée »."))
    url = StringField(_l("Lien"), description=_l("Adresse complète commençant par https://"))
    image = FileField(_l("Image de la bannière"), description=_l(
        "JPEG, PNG ou WebP, 5 Mo au plus ; 600 px de large suffisent."))
    alt_text = StringField(_l("Texte alternatif de l'image"), description=_l(
        "Ce que montre l'image, en quelques mots : il est lu aux personnes aveugles."))
    contribution_id = SelectField(_l("Contribution à mettre à la une"), choices=[], validate_choice=False)

    def fill_choices(self, db) -> None:
        self.placement.choices = letter_blocks.placements()
        self.contribution_id.choices = [("", _("— choisir —"))] + [
            (str(c.id), f"{c.title} ({c.structure.name})") for c in letter_blocks.featurable_contributions(db)]


@letter_blocks_bp.app_template_global()
def letter_blocks_panel(issue: Issue) -> dict:
    """What the composer's partials show: the blocks in the letter's order, an empty form for
    each kind, the places."""
    db = session()
    forms = {}
    for kind in BlockKind:
        form = BlockForm(formdata=None, kind=kind.value)
        form.fill_choices(db)
        for field in form:  # four forms on one page: ids of their own, the same names
            field.id = field.label.field_id = f"{kind.value}-{field.name}"
        forms[kind.value] = form
    order = {slug: i for i, (slug, _label) in enumerate(letter_blocks.placements())}
    blocks = sorted(getattr(issue, "blocks", []), key=lambda b: (b.kind is not BlockKind.featured,
                                                                 order.get(b.placement, 99), b.position))
    return {"blocks": blocks, "forms": forms, "placement_labels": dict(letter_blocks.placements()),
            "kind_labels": letter_blocks.BLOCK_KIND_LABELS, "action_form": EmptyForm()}


def _issue(issue_id: int) -> Issue:
    return session().get(Issue, issue_id) or abort(404)


def _back(issue: Issue, anchor: str = "blocs"):
    return redirect(url_for("redaction.issue", issue_id=issue.id) + f"#{anchor}")


def _show_form(issue: Issue, form: BlockForm, block: IssueBlock | None, status: int = 200):
    return render_template("redaction/letter_block.html", issue=issue, form=form, block=block,
                           kind_labels=letter_blocks.BLOCK_KIND_LABELS), status


def _apply_error(form: BlockForm, exc: BlockError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is None:
        target = form.kind
    target.errors = [*target.errors, str(exc)]


@letter_blocks_bp.route("/redaction/numeros/<int:issue_id>/blocs", methods=["POST"])
@editor_required
def add(issue_id: int):
    db = session()
    issue = _issue(issue_id)
    form = BlockForm()
    form.fill_choices(db)
    if not form.validate_on_submit():  # only the CSRF token is checked by the form itself
        abort(400)
    upload = request.files.get("image")
    try:
        block = letter_blocks.add_block(
            db, issue, current_user._get_current_object(), form.kind.data or "", placement=form.placement.data,
            title=form.title.data, body_md=form.body_md.data, label=form.label.data, url=form.url.data,
            contribution_id=form.contribution_id.data, alt_text=form.alt_text.data,
            image=upload.read() if upload and upload.filename else None,
            filename=upload.filename if upload else None)
    except BlockError as exc:
        _apply_error(form, exc)
        return _show_form(issue, form, None, 422)  # what was typed comes back; nothing is kept
    flash(_("Bloc « %(kind)s » ajouté.", kind=block.kind_label), "success")
    return _back(issue, f"bloc-{block.id}")


@letter_blocks_bp.route("/redaction/numeros/<int:issue_id>/blocs/<int:block_id>", methods=["GET", "POST"])
@editor_required
def edit(issue_id: int, block_id: int):
    db = session()
    issue = _issue(issue_id)
    block = next((b for b in issue.blocks if b.id == block_id), None) or abort(404)  # type: ignore[attr-defined]
    form = BlockForm(obj=block if request.method == "GET" else None, kind=block.kind.value)
    form.fill_choices(db)
    if request.method == "GET":
        form.contribution_id.data = str(block.contribution_id or "")
        return _show_form(issue, form, block)
    if not form.validate_on_submit():
        abort(400)
    try:
        letter_blocks.edit_block(db, issue, current_user._get_current_object(), block.id,
                                 placement=form.placement.data, title=form.title.data, body_md=form.body_md.data,
                                 label=form.label.data, url=form.url.data, alt_text=form.alt_text.data)
    except BlockError as exc:
        _apply_error(form, exc)
        return _show_form(issue, form, block, 422)
    flash(_("Bloc enregistré."), "success")
    return _back(issue, f"bloc-{block.id}")


def _button(issue_id: int, block_id: int, action) -> Response:
    issue = _issue(issue_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        message = action(issue)
        if message:
            flash(message, "success")
    except BlockError as exc:
        flash(str(exc), "error")
    return _back(issue, f"bloc-{block_id}" if any(b.id == block_id for b in issue.blocks) else "blocs")  # type: ignore[attr-defined]


@letter_blocks_bp.route("/redaction/numeros/<int:issue_id>/blocs/<int:block_id>/monter", methods=["POST"])
@editor_required
def move_up(issue_id: int, block_id: int):
    return _button(issue_id, block_id, lambda issue: letter_blocks.move_block(
        session(), issue, current_user._get_current_object(), block_id, -1) and None)


@letter_blocks_bp.route("/redaction/numeros/<int:issue_id>/blocs/<int:block_id>/descendre", methods=["POST"])
@editor_required
def move_down(issue_id: int, block_id: int):
    return _button(issue_id, block_id, lambda issue: letter_blocks.move_block(
        session(), issue, current_user._get_current_object(), block_id, +1) and None)


@letter_blocks_bp.route("/redaction/numeros/<int:issue_id>/blocs/<int:block_id>/retirer", methods=["POST"])
@editor_required
def remove(issue_id: int, block_id: int):
    def action(issue):
        letter_blocks.remove_block(session(), issue, current_user._get_current_object(), block_id)
        return _("Bloc retiré du numéro.")
    return _button(issue_id, block_id, action)


@letter_blocks_bp.route("/lettres/images/<int:block_id>-<version>.<extension>")
def banner(block_id: int, version: str, extension: str):
    """A banner of a letter: public (the e-mail shows it), named by a hash of its bytes."""
    found = letter_blocks.banner_image(session(), block_id, version)
    if found is None:
        abort(404)
    data, content_type = found
    return Response(data, mimetype=content_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})
