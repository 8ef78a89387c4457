"""RGPD on the web, beyond the subscriber's own links (subscribers/views.py): the privacy page
`/confidentialite`, and the editors' side of a request received by mail — export and erase a
subscriber's data, each recorded with the editor's address — and the list of past requests."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from accounts import journal
from accounts.auth import editor_required
from core.db import session
from subscribers import privacy
from subscribers.models import PrivacyRequest, Subscriber

privacy_bp = Blueprint("privacy", __name__)

journal.register_actions({"privacy.exported": _l("RGPD : données exportées"),
                          "privacy.erased": _l("RGPD : données effacées")})

REQUESTS_SHOWN = 200


class EditorEraseForm(FlaskForm):
    note = TextAreaField(
        _l("Demande reçue"), validators=[
            DataRequired(message=_l("Indiquez d'où vient la demande (date, canal, référence du courrier).")),
            Length(max=2000)],
        description=_l("Par exemple : « courriel du 2 décembre 2026, réf. 2026-14 ». N'y écrivez pas "
                       "l'adresse de la personne : le registre des demandes n'en garde que l'empreinte."),
        render_kw={"rows": 3})


@privacy_bp.route("/confidentialite")
def policy():
    return render_template("public/privacy.html")


def _subscriber(subscriber_id: int) -> Subscriber:
    subscriber = session().get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    return subscriber


@privacy_bp.route("/redaction/abonnes/<int:subscriber_id>/donnees")
@editor_required
def editor_export(subscriber_id: int):
    """A subscriber's data for a request received by mail, recorded with the editor's address."""
    subscriber = _subscriber(subscriber_id)
    data = privacy.export_for_request(session(), subscriber, actor=current_user.email, channel="mail",
                                      note=request.args.get("note"))
    # No address in the journal: the erasure that may follow must leave none behind.
    journal.record(session(), current_user._get_current_object(), "privacy.exported",
                   f"Export des données de l'abonné·e n°{subscriber.id} (demande reçue par courrier)",
                   target=f"subscriber:{subscriber.id}")
    if request.args.get("format") == "json":
        return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                        headers={"Content-Disposition": f'attachment; filename="abonne-{subscriber.id}.json"',
                                 "Cache-Control": "no-store"})
    response = Response(render_template("subscribers/my_data.html", subscriber=subscriber, data=data, editor=True))
    response.headers["Cache-Control"] = "no-store"
    return response


@privacy_bp.route("/redaction/abonnes/<int:subscriber_id>/effacer", methods=["GET", "POST"])
@editor_required
def editor_erase(subscriber_id: int):
    """Erase a subscriber for a request received by mail: the editor says where it came from."""
    subscriber = _subscriber(subscriber_id)
    form = EditorEraseForm()
    if form.validate_on_submit():
        subscriber_id = subscriber.id
        privacy.erase(session(), subscriber, actor=current_user.email, channel="mail", note=form.note.data)
        journal.record(session(), current_user._get_current_object(), "privacy.erased",
                       f"Données de l'abonné·e n°{subscriber_id} effacées (demande reçue par courrier)",
                       target=f"subscriber:{subscriber_id}")
        flash(_("Les données de l'abonné·e ont été effacées. La demande est enregistrée."), "success")
        return redirect(url_for(".requests"))
    status = 422 if form.errors else 200
    return render_template("redaction/privacy_erase.html", subscriber=subscriber, form=form,
                           suppressed=privacy.suppression_reason(session(), subscriber)), status


@privacy_bp.route("/redaction/abonnes/demandes-rgpd")
@editor_required
def requests():
    shown = list(session().scalars(select(PrivacyRequest).order_by(PrivacyRequest.at.desc(), PrivacyRequest.id.desc())
                                   .limit(REQUESTS_SHOWN)))
    return render_template("redaction/privacy_requests.html", requests=shown, limit=REQUESTS_SHOWN)
