"""The partner space (/partenaires/) and the editor's moderation queue (/redaction/moderation/)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from contributions import services
from contributions.forms import ContributionForm, DecisionForm
from contributions.models import STATUS_LABELS, Contribution, ContributionKind, ContributionStatus
from newsletter.auth import editor_required, partner_required
from newsletter.db import session
from newsletter.formatting import PARIS
from newsletter.forms import EmptyForm

partner_bp = Blueprint("partners", __name__, url_prefix="/partenaires")
moderation_bp = Blueprint("moderation", __name__, url_prefix="/redaction/moderation")


def _data(form: ContributionForm) -> services.ContributionData:
    def paris(value):
        return value.replace(tzinfo=PARIS) if value else None
    return services.ContributionData(
        kind=ContributionKind(form.kind.data), title=form.title.data.strip(), body_md=form.body_md.data,
        link=form.link.data or None, event_start=paris(form.event_start.data),
        event_end=paris(form.event_end.data), place=(form.place.data or "").strip() or None)


def _fill(form: ContributionForm, contribution: Contribution) -> None:
    form.kind.data = contribution.kind.value
    form.title.data, form.body_md.data = contribution.title, contribution.body_md
    form.link.data, form.place.data = contribution.link, contribution.place
    form.event_start.data = contribution.event_start.astimezone(PARIS).replace(tzinfo=None) if contribution.event_start else None
    form.event_end.data = contribution.event_end.astimezone(PARIS).replace(tzinfo=None) if contribution.event_end else None


def _own(contribution_id: int) -> Contribution:
    contribution = session().get(Contribution, contribution_id) or abort(404)
    if not services.can_view(current_user, contribution):
        abort(403)
    return contribution


# --- Partner space ------------------------------------------------------------------------------

@partner_bp.route("/")
@partner_required
def home():
    return render_template("partners/home.html",
                           contributions=services.for_structure(session(), current_user.structure_id))


@partner_bp.route("/contributions/nouvelle", methods=["GET", "POST"])
@partner_required
def new_contribution():
    form = ContributionForm()
    if form.validate_on_submit():
        try:
            contribution = services.create(session(), current_user, _data(form),
                                           submit=request.form.get("action") != "draft")
        except services.ModerationError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Contribution envoyée à la rédaction.") if contribution.status is ContributionStatus.submitted
                  else _("Brouillon enregistré."), "success")
            return redirect(url_for(".contribution", contribution_id=contribution.id))
    return render_template("partners/form.html", form=form, contribution=None), 422 if form.errors else 200


@partner_bp.route("/contributions/<int:contribution_id>")
@partner_required
def contribution(contribution_id: int):
    return render_template("partners/contribution.html", contribution=_own(contribution_id),
                           action_form=EmptyForm(), editable=_own(contribution_id).status in services.EDITABLE_BY_PARTNER)


@partner_bp.route("/contributions/<int:contribution_id>/modifier", methods=["GET", "POST"])
@partner_required
def edit_contribution(contribution_id: int):
    contribution = _own(contribution_id)
    if contribution.status not in services.EDITABLE_BY_PARTNER:
        flash(_("Cette contribution n'est plus modifiable."), "error")
        return redirect(url_for(".contribution", contribution_id=contribution.id))
    form = ContributionForm()
    if request.method == "GET":
        _fill(form, contribution)
    if form.validate_on_submit():
        try:
            services.update(session(), current_user, contribution, _data(form),
                            submit=request.form.get("action") != "draft")
        except services.ModerationError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Contribution renvoyée à la rédaction.") if contribution.status is ContributionStatus.submitted
                  else _("Modifications enregistrées."), "success")
            return redirect(url_for(".contribution", contribution_id=contribution.id))
    return render_template("partners/form.html", form=form, contribution=contribution), 422 if form.errors else 200


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

@moderation_bp.route("/")
@editor_required
def queue():
    raw = request.args.get("statut", ContributionStatus.submitted.value)
    status = ContributionStatus(raw) if raw in ContributionStatus._value2member_map_ else None
    return render_template("moderation/queue.html", contributions=services.moderation_queue(session(), status),
                           status=status, status_labels=STATUS_LABELS)


@moderation_bp.route("/<int:contribution_id>", methods=["GET", "POST"])
@editor_required
def review(contribution_id: int):
    contribution = session().get(Contribution, contribution_id) or abort(404)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            services.decide(session(), current_user, contribution, ContributionStatus(form.decision.data),
                            form.comment.data or "")
        except services.ModerationError as exc:
            form.comment.errors.append(str(exc))
        else:
            flash(_("Décision enregistrée : %(status)s. Le partenaire est prévenu par e-mail.", status=contribution.status_label), "success")
            return redirect(url_for(".queue"))
    return render_template("moderation/review.html", contribution=contribution, form=form), 422 if form.errors else 200
