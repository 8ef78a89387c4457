"""The editors' subscriber list and subscriber page: `/redaction/abonnes/` (search, filters, counts,
pages, export of the selection) and `/redaction/abonnes/<id>` (data, consent proofs, history,
actions: edit, unsubscribe, lift a suppression). Query logic: subscribers/directory.py; actions:
subscribers/editing.py; history: subscribers/history.py."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from accounts import journal
from accounts.auth import editor_required
from core.db import SessionFactory, session
from subscribers import directory, editing
from subscribers import history as subscriber_history
from subscribers.forms import MultiCheckboxField, role_choices, topic_choices
from subscribers.models import LEGAL_BASIS_LABELS, ROLES, TOPICS, ConsentRecord, Subscriber, SubscriberStatus

subscribers_admin_bp = Blueprint("subscribers_admin", __name__)

MAX_ID = 2**31 - 1  # PostgreSQL's integer: a larger id in the URL is simply not found

STATUS_LABELS = {
    SubscriberStatus.pending: _l("En attente de confirmation"),
    SubscriberStatus.active: _l("Actifs"),
    SubscriberStatus.unsubscribed: _l("Désabonnés"),
    SubscriberStatus.suppressed: _l("Suspendus"),
}
STATUS_LABEL_ONE = {
    SubscriberStatus.pending: _l("En attente de confirmation"),
    SubscriberStatus.active: _l("Actif"),
    SubscriberStatus.unsubscribed: _l("Désabonné"),
    SubscriberStatus.suppressed: _l("Suspendu"),
}
PROBLEMS = {  # directory.parse_filters' notices, translated here
    "Statut inconnu, filtre ignoré.": _l("Statut inconnu, filtre ignoré."),
    "Thème inconnu, filtre ignoré.": _l("Thème inconnu, filtre ignoré."),
    "Fonction inconnue, filtre ignoré.": _l("Fonction inconnue, filtre ignoré."),
    "Département inconnu (attendu : un code comme 93, 2A ou 971), filtre ignoré.":
        _l("Département inconnu (attendu : un code comme 93, 2A ou 971), filtre ignoré."),
}


class EditForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(message=_l("Indiquez l'adresse e-mail."))])
    name = StringField(_l("Nom et prénom"), validators=[Optional(), Length(max=200)])
    structure = StringField(_l("Structure"), validators=[Optional(), Length(max=200)])
    topics = MultiCheckboxField(_l("Thèmes"), choices=topic_choices(), validators=[Optional()],
                                description=_l("Sans thème coché : tous les thèmes."))
    role = SelectField(_l("Fonction"), choices=role_choices("—"), validators=[Optional()], default="")
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=120)])
    departement = StringField(_l("Département (code)"), validators=[Optional(), Length(max=3)],
                              description=_l("Par exemple 93, 2A ou 971."))


class LiftForm(FlaskForm):
    reason = TextAreaField(_l("Motif de la levée"), validators=[
        DataRequired(message=_l("Indiquez pourquoi la suspension est levée.")),
        Length(max=editing.MAX_REASON, message=_l("Le motif est trop long (500 caractères au plus)."))],
        description=_l("Par exemple : la personne a confirmé par téléphone que son adresse fonctionne de nouveau."))


class ActionForm(FlaskForm):
    """A button: the CSRF token only."""


def _subscriber_or_404(subscriber_id: int) -> Subscriber:
    if subscriber_id > MAX_ID:
        abort(404)
    subscriber = session().get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    return subscriber


def _actor() -> str:
    return current_user.email


@subscribers_admin_bp.route("/redaction/abonnes/")
@editor_required
def index():
    db = session()
    filters = directory.parse_filters(request.args)
    page = directory.search(db, filters)
    return render_template(
        "redaction/subscribers.html", filters=filters, result=page,
        problems=[str(PROBLEMS.get(p, p)) for p in filters.problems], status_labels=STATUS_LABELS,
        status_label_one=STATUS_LABEL_ONE, topics=TOPICS, roles=ROLES,
        departements=directory.DEPARTEMENTS)


@subscribers_admin_bp.route("/redaction/abonnes/export.csv")
@editor_required
def export():
    filters = directory.parse_filters(request.args)
    journal.record(session(), current_user._get_current_object(), "subscribers.exported",
                   "Export CSV de la liste des abonnés" + (f" (filtres : {request.query_string.decode()[:300]})"
                                                           if request.query_string else ""))
    stamp = datetime.now().strftime("%Y%m%d-%H%M")

    def body():
        # Streamed after the request's own session is gone: a session of its own, closed at the end
        # (or when the client goes away), so that no transaction outlives the download.
        db = SessionFactory()
        try:
            for chunk in directory.csv_chunks(directory.export_rows(db, filters)):
                yield chunk.encode("utf-8")
        finally:
            db.close()

    return Response(body(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="abonnes-{stamp}.csv"',
        "Cache-Control": "no-store"})


journal.register_actions({
    "subscriber.edited": _l("Abonné·e modifié·e"), "subscriber.unsubscribed": _l("Abonné·e désabonné·e"),
    "subscriber.suppression_lifted": _l("Suspension levée"), "subscribers.exported": _l("Export des abonnés"),
})


def _journal(subscriber: Subscriber, action: str, summary: str) -> None:
    journal.record(session(), current_user._get_current_object(), action, summary,
                   target=f"subscriber:{subscriber.id}")


def _page(subscriber: Subscriber, edit_form: EditForm | None = None, lift_form: LiftForm | None = None,
          status: int = 200):
    db = session()
    consents = list(db.scalars(select(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber.id)
                               .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc())))
    return render_template(
        "redaction/subscriber.html", subscriber=subscriber, consents=consents,
        entries=subscriber_history.history(db, subscriber), lift_form=lift_form or LiftForm(),
        action_form=ActionForm(), status_label_one=STATUS_LABEL_ONE, topics=TOPICS, roles=ROLES,
        basis_labels=LEGAL_BASIS_LABELS, lifted_status=editing.status_after_lifting(subscriber)), status


@subscribers_admin_bp.route("/redaction/abonnes/<int:subscriber_id>")
@editor_required
def subscriber_page(subscriber_id: int):
    return _page(_subscriber_or_404(subscriber_id))


@subscribers_admin_bp.route("/redaction/abonnes/<int:subscriber_id>/modifier", methods=["GET", "POST"])
@editor_required
def edit(subscriber_id: int):
    subscriber = _subscriber_or_404(subscriber_id)
    form = EditForm()
    if request.method == "GET":
        form.email.data = subscriber.email
        form.name.data = subscriber.name
        form.structure.data = subscriber.structure_name
        form.topics.data = list(subscriber.topics or [])
        form.role.data = subscriber.role or ""
        form.commune.data = subscriber.commune or ""
        form.departement.data = subscriber.departement or ""
    elif form.validate_on_submit():
        changes = editing.Changes(email=form.email.data, name=form.name.data or "",
                                  structure_name=form.structure.data or "", topics=list(form.topics.data or []),
                                  role=form.role.data or None, commune=form.commune.data or None,
                                  departement=form.departement.data or None)
        try:
            done = editing.edit(session(), subscriber, changes, _actor())
        except editing.EditError as exc:
            form[exc.field].errors = [*form[exc.field].errors, str(exc)]
        else:
            if done:
                _journal(subscriber, "subscriber.edited", f"Fiche de l'abonné·e {subscriber.email} modifiée")
            session().commit()
            flash(_("Fiche enregistrée.") if done else _("Aucune modification."), "success")
            return redirect(url_for(".subscriber_page", subscriber_id=subscriber.id))
    return render_template("redaction/subscriber_edit.html", subscriber=subscriber, form=form), (
        422 if form.errors else 200)


@subscribers_admin_bp.route("/redaction/abonnes/<int:subscriber_id>/desabonner", methods=["POST"])
@editor_required
def unsubscribe(subscriber_id: int):
    subscriber = _subscriber_or_404(subscriber_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if editing.unsubscribe(session(), subscriber, _actor()):
        _journal(subscriber, "subscriber.unsubscribed", f"{subscriber.email} désabonné·e par la rédaction")
        session().commit()
        flash(_("%(email)s est désabonné·e.", email=subscriber.email), "success")
    else:
        flash(_("Cette personne ne recevait déjà plus la lettre."), "info")
    return redirect(url_for(".subscriber_page", subscriber_id=subscriber.id))


@subscribers_admin_bp.route("/redaction/abonnes/<int:subscriber_id>/lever-suspension", methods=["POST"])
@editor_required
def lift(subscriber_id: int):
    subscriber = _subscriber_or_404(subscriber_id)
    form = LiftForm()
    if form.validate_on_submit():
        try:
            status = editing.lift_suppression(session(), subscriber, form.reason.data, _actor())
        except editing.EditError as exc:
            form.reason.errors = [*form.reason.errors, str(exc)]
        else:
            _journal(subscriber, "subscriber.suppression_lifted",
                     f"Suspension de {subscriber.email} levée ({status.value}) : {form.reason.data}")
            session().commit()
            flash(_("Suspension levée : statut « %(status)s ».", status=STATUS_LABEL_ONE[status]), "success")
            return redirect(url_for(".subscriber_page", subscriber_id=subscriber.id))
    return _page(subscriber, lift_form=form, status=422)
