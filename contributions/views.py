"""The partner space (/partenaires/), the editor's moderation queue (/redaction/moderation/) and
the files attached to contributions (/fichiers/)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from accounts.auth import editor_required, partner_required
from contributions import editing, rubriques, services, uploads
from contributions.forms import (
    FORMS,
    KIND_DESCRIPTIONS,
    BaseContributionForm,
    DecisionForm,
    FicheActionForm,
)
from contributions.models import (
    KIND_LABELS,
    RESOURCE_KIND_LABELS,
    STATUS_LABELS,
    Contribution,
    ContributionKind,
    ContributionStatus,
    ResourceKind,
)
from core import departements
from core.db import session, utcnow
from core.formatting import PARIS, date_range, long_date
from core.forms import EmptyForm
from core.text import render_markdown, safe_url
from core.web import ids, small_int

partner_bp = Blueprint("partners", __name__, url_prefix="/partenaires")
moderation_bp = Blueprint("moderation", __name__, url_prefix="/redaction/moderation")
files_bp = Blueprint("files", __name__, url_prefix="/fichiers")

FICHE_LIST_FIELDS = ("keywords", "initiative", "public", "partners")
FICHE_TEXT_FIELDS = ("structure_label", "departement", "dimension", "territory", "status_reason", "contact",
                     "summary", "partners_description", "financial_resources", "people_mobilised",
                     "result_territory", "result_structure", "result_inhabitants", "limits", "perspectives")


@partner_bp.app_template_global()
def resource_kind_label(value) -> str:
    return RESOURCE_KIND_LABELS.get(ResourceKind(value), "") if value else ""


@partner_bp.app_template_global()
def action_status_label(value: str | None) -> str:
    return services.ACTION_STATUS_LABELS.get(value or "", "")


def waited(since, now) -> str:
    """How long it has waited, for people: « 3 j 4 h », « 5 h 10 min », « 12 min »."""
    if since is None:
        return ""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(d)s j %(h)s h", d=days, h=hours)
    if hours:
        return _("%(h)s h %(m)s min", h=hours, m=minutes)
    return _("%(m)s min", m=minutes)


def kind_slug(kind: ContributionKind) -> str:
    return kind.value.replace("_", "-")


def kind_from_slug(slug: str) -> ContributionKind:
    try:
        return ContributionKind(slug.replace("-", "_"))
    except ValueError:
        abort(404)


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _data(form: BaseContributionForm) -> services.ContributionData:
    """What the partner typed, as the service's data."""
    def paris(value):
        return value.replace(tzinfo=PARIS) if value else None

    data = services.ContributionData(
        kind=form.kind_value, title=form.title.data.strip(), body_md=form.body_md.data or "",
        link=_text(form.link.data))
    if "event_start" in form:
        data.event_start, data.event_end = paris(form.event_start.data), paris(form.event_end.data)
        data.place, data.audience = _text(form.place.data), _text(form.audience.data)
        data.contact = _text(form.contact.data)
    if "deadline" in form:
        data.deadline = form.deadline.data
    if "resource_kind" in form:
        data.resource_kind = ResourceKind(form.resource_kind.data) if form.resource_kind.data else None
    if isinstance(form, FicheActionForm):
        fiche = services.FicheData(year=form.year.data, action_status=form.action_status.data or None)
        for name in FICHE_TEXT_FIELDS:
            setattr(fiche, name, _text(form[name].data))
        for name in FICHE_LIST_FIELDS:
            setattr(fiche, name, services.split_list(form[name].data))
        if fiche.action_status != "terminee":
            fiche.status_reason = None
        data.fiche = fiche
    return data


def _fill(form: BaseContributionForm, contribution: Contribution) -> None:
    """The form, filled with what is saved (GET of the edit page)."""
    def local(value):
        return value.astimezone(PARIS).replace(tzinfo=None) if value else None

    form.title.data, form.body_md.data, form.link.data = contribution.title, contribution.body_md, contribution.link
    if "event_start" in form:
        form.event_start.data, form.event_end.data = local(contribution.event_start), local(contribution.event_end)
        form.place.data, form.audience.data = contribution.place, contribution.audience
        form.contact.data = contribution.contact
    if "deadline" in form:
        form.deadline.data = contribution.deadline
    if "resource_kind" in form:
        form.resource_kind.data = contribution.resource_kind.value if contribution.resource_kind else None
    if isinstance(form, FicheActionForm) and contribution.fiche is not None:
        fiche = contribution.fiche
        form.year.data, form.action_status.data = fiche.year, fiche.action_status
        for name in FICHE_TEXT_FIELDS:
            form[name].data = getattr(fiche, name)
        for name in FICHE_LIST_FIELDS:
            form[name].data = "\n".join(getattr(fiche, name) or [])
        form.territory.data = fiche.territory or ""
        form.departement.data = departements.label(fiche.departement) or None


def _own(contribution_id: int) -> Contribution:
    contribution = session().get(Contribution, contribution_id) or abort(404)
    if not services.can_view(current_user, contribution):
        abort(403)
    return contribution


@dataclass
class ChosenFile:
    """The file of the form: sent with this POST or kept from an earlier one (a preview, an error),
    under a token the form carries until the contribution is saved."""
    token: str
    raw: bytes
    filename: str

    @property
    def is_image(self) -> bool:
        return not uploads.is_pdf(self.raw)

    @property
    def url(self) -> str:
        return url_for("partners.pending_file", token=self.token)


def _chosen_file(form: BaseContributionForm) -> ChosenFile | None:
    storage = form.upload.data
    kept = request.form.get("pending_upload") or None
    if storage and getattr(storage, "filename", None):
        uploads.drop_pending(kept, current_user.id)  # replaced by the new one
        raw = storage.read(uploads.MAX_PDF_BYTES + 1)
        return ChosenFile(uploads.keep_pending(raw, storage.filename, current_user.id), raw, storage.filename)
    found = uploads.pending(kept, current_user.id)
    return ChosenFile(kept, *found) if kept and found else None


def _check_file(form: BaseContributionForm, chosen: ChosenFile | None,
                for_preview: bool = False) -> tuple[list[uploads.ProcessedFile] | None, ChosenFile | None]:
    """The chosen file, checked: ([file], chosen) or ([], None) without one; (None, chosen or None)
    and the error on its field when refused. A refused file is dropped; one only waiting for its
    description is kept. A preview checks the file, not yet its description."""
    if chosen is None:
        return [], None
    alt = form.upload_alt.data or ("-" if for_preview else None)
    try:
        return [uploads.process_upload(chosen.raw, chosen.filename, alt, form.upload_title.data)], chosen
    except uploads.UploadError as exc:
        form[exc.field].errors = [*form[exc.field].errors, str(exc)]
        if exc.field == "upload":
            uploads.drop_pending(chosen.token, current_user.id)
            return None, None
        return None, chosen


def _preview(form: BaseContributionForm, contribution: Contribution | None, chosen: ChosenFile | None) -> dict:
    """The contribution as it will be published, for the "Prévisualiser" button: title, when and
    where, the other details, the images (kept and chosen) and the Markdown fields (sanitized)."""
    try:
        data: services.ContributionData | None = _data(form)
    except (ValueError, AttributeError):  # a value the form has not validated yet
        data = None
    facts: list[tuple[str, str]] = []
    if data is not None:
        if data.event_start:
            facts.append((_("Quand"), date_range(data.event_start, data.event_end)))
        for name in ("place", "audience", "contact"):
            if name in form and _text(form[name].data):
                facts.append((str(form[name].label.text), _text(form[name].data) or ""))
        if data.deadline:
            facts.append((_("Date limite de réponse"), long_date(data.deadline)))
        if data.link and safe_url(data.link):
            facts.append((_("Lien"), data.link))
    images = [(url_for("files.file", file_id=f.id), f.alt_text or "") for f in (contribution.files if contribution
              else []) if f.kind == "image" and str(f.id) not in request.form.getlist("remove_file")]
    if chosen is not None and chosen.is_image:
        images.append((chosen.url, form.upload_alt.data or ""))
    return {"title": (form.title.data or "").strip(), "facts": facts, "images": images,
            "sections": [(str(f.label.text), render_markdown(f.data)) for f in form.markdown_fields() if f.data]}


def _render_form(form, contribution, kind, status=200, preview=None, chosen=None):
    return render_template("partners/form.html", form=form, contribution=contribution, kind=kind,
                           kind_label=KIND_LABELS[kind], preview=preview, chosen=chosen), status


def _save(form: BaseContributionForm, kind: ContributionKind, contribution: Contribution | None):
    """The POST of a contribution form: preview, save as draft, or send to the editors."""
    action = request.form.get("action", "submit")
    chosen = _chosen_file(form)
    if action == "preview":
        chosen = _check_file(form, chosen, for_preview=True)[1]
        return _render_form(form, contribution, kind, preview=_preview(form, contribution, chosen), chosen=chosen)
    form.submitting = action != "draft"
    valid = form.validate_on_submit()
    files, chosen = _check_file(form, chosen) if valid else (None, chosen)
    if valid and files is not None:
        remove = set(ids(request.form.getlist("remove_file")))
        was_sent = contribution is not None and contribution.status is ContributionStatus.submitted
        try:
            if contribution is None:
                contribution = services.create(session(), current_user, _data(form),
                                               submit=form.submitting, files=files)
            else:
                services.update(session(), current_user, contribution, _data(form), submit=form.submitting,
                                files=files, remove_file_ids=remove)
        except services.ModerationError as exc:
            flash(str(exc), "error")
            return _render_form(form, contribution, kind, 422, chosen=chosen)
        if chosen is not None:
            uploads.drop_pending(chosen.token, current_user.id)
        if was_sent:
            flash(_("Modifications enregistrées : la rédaction lira cette version."), "success")
        elif contribution.status is ContributionStatus.submitted and form.submitting:
            flash(_("Contribution envoyée à la rédaction. Vous serez prévenu·e par e-mail de sa décision."), "success")
        else:
            flash(_("Brouillon enregistré. Il n'est pas encore envoyé à la rédaction."), "success")
        return redirect(url_for(".contribution", contribution_id=contribution.id))
    return _render_form(form, contribution, kind, 422, chosen=chosen)


@partner_bp.route("/fichier-en-attente/<token>")
@login_required  # a partner's or an editor's (moderation/edit.html) chosen file, to its owner only
def pending_file(token: str):
    """A chosen image not saved yet (preview, form with errors), re-encoded, to its owner only."""
    found = uploads.pending(token, current_user.id)
    if found is None or uploads.is_pdf(found[0]):
        abort(404)
    try:
        image = uploads.process_image(found[0], found[1], "-")
    except uploads.UploadError:
        abort(404)
    response = Response(image.data, mimetype=image.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- Partner space ------------------------------------------------------------------------------

@partner_bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    flash(_("Le fichier envoyé est trop lourd : 5 Mo au plus pour une image, 10 Mo pour un PDF. "
            "Rien n'a été enregistré ; réduisez le fichier puis recommencez."), "error")
    return render_template("partners/too_large.html"), 413


@partner_bp.route("/")
@partner_required
def home():
    return render_template("partners/home.html",
                           contributions=services.for_structure(session(), current_user.structure_id))


@partner_bp.route("/nouvelle")
@partner_required
def choose_kind():
    chosen = request.args.get("type")
    if chosen:
        return redirect(url_for(".new_of_kind", slug=kind_slug(kind_from_slug(chosen))))
    kinds = [(kind, KIND_LABELS[kind], KIND_DESCRIPTIONS[kind], kind_slug(kind)) for kind in ContributionKind]
    return render_template("partners/choose_kind.html", kinds=kinds)


@partner_bp.route("/nouvelle/<slug>", methods=["GET", "POST"])
@partner_required
def new_of_kind(slug: str):
    kind = kind_from_slug(slug)
    form = FORMS[kind]()
    if request.method == "GET" and isinstance(form, FicheActionForm):
        form.departement.data = departements.label(current_user.structure.departement) or None
    if request.method == "POST":
        return _save(form, kind, None)
    return _render_form(form, None, kind)


@partner_bp.route("/contributions/nouvelle", methods=["GET", "POST"])
@partner_required
def new_contribution():
    """The former single form: the kind comes with the form."""
    raw = request.values.get("kind")
    if request.method == "GET" or raw is None:
        return redirect(url_for(".choose_kind", type=raw) if raw else url_for(".choose_kind"))
    kind = kind_from_slug(raw)
    return _save(FORMS[kind](), kind, None)


@partner_bp.route("/contributions/<int:contribution_id>")
@partner_required
def contribution(contribution_id: int):
    contribution = _own(contribution_id)
    return render_template("partners/contribution.html", contribution=contribution,
                           action_form=EmptyForm(), editable=services.partner_may_edit(contribution))


@partner_bp.route("/contributions/<int:contribution_id>/modifier", methods=["GET", "POST"])
@partner_required
def edit_contribution(contribution_id: int):
    contribution = _own(contribution_id)
    form = FORMS[contribution.kind]()
    if request.method == "POST":  # refused by the service when no longer editable, the text shown again
        return _save(form, contribution.kind, contribution)
    if not services.partner_may_edit(contribution):
        flash(_("Cette contribution n'est plus modifiable."), "error")
        return redirect(url_for(".contribution", contribution_id=contribution.id))
    _fill(form, contribution)
    return _render_form(form, contribution, contribution.kind)


@partner_bp.route("/contributions/<int:contribution_id>/retirer", methods=["POST"])
@partner_required
def withdraw(contribution_id: int):
    contribution = _own(contribution_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw(session(), current_user, contribution)
        flash(_("Contribution retirée."), "success")
    except services.ModerationError as exc:
        flash(str(exc), "error")
    return redirect(url_for(".contribution", contribution_id=contribution.id))


# --- Moderation ---------------------------------------------------------------------------------

def _enum_arg(name: str, enum_type, default=None):
    raw = request.args.get(name, default)
    return enum_type(raw) if raw in enum_type._value2member_map_ else None


@moderation_bp.route("/")
@editor_required
def queue():
    status = _enum_arg("statut", ContributionStatus, ContributionStatus.submitted.value)
    kind = _enum_arg("type", ContributionKind)
    structure_id = small_int(request.args.get("structure"))
    rubrique_choices = rubriques.choices(session())
    rubrique = request.args.get("rubrique") or None
    if rubrique not in dict(rubrique_choices):
        rubrique = None
    contributions = services.moderation_queue(session(), status, kind=kind, structure_id=structure_id,
                                              rubrique=rubrique)
    return render_template(
        "moderation/queue.html", contributions=contributions, status=status, kind=kind,
        structure_id=structure_id, rubrique=rubrique, status_labels=STATUS_LABELS, kind_labels=KIND_LABELS,
        rubriques=rubrique_choices, structures=services.structures_with_contributions(session()),
        waiting_since=services.waiting_since, now=utcnow(), waited=waited,
        rubrique_labels=dict(rubrique_choices), default_rubrique=rubriques.defaults(session()).__getitem__)


@moderation_bp.route("/<int:contribution_id>", methods=["GET", "POST"])
@editor_required
def review(contribution_id: int):
    contribution = session().get(Contribution, contribution_id) or abort(404)
    if request.method == "GET":  # opened: from now on its partner may no longer change it
        editing.mark_opened(session(), current_user, contribution)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            services.decide(session(), current_user, contribution, ContributionStatus(form.decision.data),
                            form.comment.data or "")
        except services.ModerationError as exc:
            form.comment.errors.append(str(exc))
        else:
            flash(_("Décision enregistrée : %(status)s. Le partenaire est prévenu par e-mail.",
                    status=contribution.status_label), "success")
            return redirect(url_for(".queue"))
    return render_template("moderation/review.html", contribution=contribution, form=form,
                           rubrique_label=rubriques.labels(session()).get(
                               rubriques.default_for(session(), contribution.kind)),
                           is_network=editing.is_network(contribution), action_form=EmptyForm(),
                           waited=waited(services.waiting_since(contribution), utcnow())), \
        422 if form.errors else 200


# --- Files --------------------------------------------------------------------------------------

def _file_response(data: bytes, content_type: str, filename: str, attachment: bool, public: bool) -> Response:
    response = Response(data, mimetype=content_type)
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "public, max-age=86400" if public else "private, no-store"
    return response


def _visible_file(file_id: int):
    user = current_user if current_user.is_authenticated else None
    file = services.visible_file(session(), file_id, user)
    if file is None:
        abort(404)  # not 403: a visitor learns nothing of drafts
    return file


@files_bp.route("/<int:file_id>")
def file(file_id: int):
    f = _visible_file(file_id)
    return _file_response(f.data, f.content_type, f.filename, f.kind == "pdf", services.is_public(f.contribution))


@files_bp.route("/<int:file_id>/email")
def email_copy(file_id: int):
    f = _visible_file(file_id)
    if f.kind != "image" or not f.email_data:
        abort(404)
    content_type = uploads.sniff_image_type(f.email_data)
    extension = {"image/png": "png", "image/jpeg": "jpg"}.get(content_type, "bin")
    name = f.filename.rsplit(".", 1)[0] + "-email." + extension
    return _file_response(f.email_data, content_type, name, False, services.is_public(f.contribution))
