"""The admins' webhook pages: /redaction/webhooks (the list and the form to add one) and one page
per endpoint (its settings, its secret, its delivery log)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.auth import admin_required
from core.db import session
from core.forms import EmptyForm
from parentalites.webhooks import services
from parentalites.webhooks.events import EVENTS, LABELS
from parentalites.webhooks.forms import WebhookForm
from parentalites.webhooks.models import WebhookEndpoint

webhooks_bp = Blueprint("webhooks", __name__, url_prefix="/redaction/webhooks")


def _admin():
    return current_user._get_current_object()


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@webhooks_bp.route("", methods=["GET", "POST"])
@admin_required
def index():
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            endpoint = services.create_endpoint(session(), _admin(), form.url.data, form.events.data,
                                                form.description.data or "")
        except services.WebhookError as exc:
            form.url.errors = [*form.url.errors, str(exc)]
        else:
            flash(_("Webhook ajouté. Son secret est sur sa page : copiez-le dans le service qui reçoit les appels."),
                  "success")
            return redirect(url_for("webhooks.endpoint", endpoint_id=endpoint.id))
    endpoints = session().scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    status = 422 if form.errors else 200
    return render_template("redaction/webhooks.html", form=form, endpoints=endpoints, events=EVENTS), status


@webhooks_bp.route("/<int:endpoint_id>", methods=["GET", "POST"])
@admin_required
def endpoint(endpoint_id: int):
    hook = _endpoint(endpoint_id)
    form = WebhookForm(obj=hook)
    if form.validate_on_submit():
        try:
            services.update_endpoint(session(), _admin(), hook, form.url.data, form.events.data,
                                     form.description.data or "", form.active.data)
        except services.WebhookError as exc:
            form.url.errors = [*form.url.errors, str(exc)]
        else:
            flash(_("Webhook enregistré."), "success")
            return redirect(url_for("webhooks.endpoint", endpoint_id=hook.id))
    status = 422 if form.errors else 200
    return render_template("redaction/webhook.html", hook=hook, form=form, events=LABELS,
                           attempts=services.recent_attempts(session(), hook), action_form=EmptyForm()), status


@webhooks_bp.post("/<int:endpoint_id>/secret")
@admin_required
def rotate_secret(endpoint_id: int):
    hook = _endpoint(endpoint_id)
    if EmptyForm().validate_on_submit():
        services.rotate_secret(session(), _admin(), hook)
        flash(_("Nouveau secret créé : l'ancien ne signe plus rien. Copiez le nouveau dans le service qui reçoit "
                "les appels."), "success")
    return redirect(url_for("webhooks.endpoint", endpoint_id=hook.id))


@webhooks_bp.post("/<int:endpoint_id>/essai")
@admin_required
def send_test(endpoint_id: int):
    hook = _endpoint(endpoint_id)
    if EmptyForm().validate_on_submit():
        try:
            services.send_test(session(), hook)
        except services.WebhookError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Essai en route : son résultat apparaît dans les derniers envois d'ici quelques secondes."),
                  "success")
    return redirect(url_for("webhooks.endpoint", endpoint_id=hook.id))


@webhooks_bp.post("/<int:endpoint_id>/supprimer")
@admin_required
def delete(endpoint_id: int):
    hook = _endpoint(endpoint_id)
    if EmptyForm().validate_on_submit():
        services.delete_endpoint(session(), _admin(), hook)
        flash(_("Webhook supprimé."), "success")
    return redirect(url_for("webhooks.index"))
