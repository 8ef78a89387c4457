"""Public agenda: /agenda/ (upcoming, or past with ?passes=1), /agenda/<id>/ (details and
registration), /agenda/inscription/<token> (see or cancel one's registration), /agenda.ics."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from events import ics, services
from events.forms import RegistrationForm
from events.models import Event, EventStatus, EventType, RegistrationStatus
from newsletter.db import session
from newsletter.extensions import limiter

events_bp = Blueprint("events", __name__)

TYPE_LABELS = {
    EventType.soiree_reaap: _l("Soirée-rencontre du Réaap"),
    EventType.journee_porteurs: _l("Journée des porteurs de projet"),
    EventType.rencontre_clas: _l("Rencontre des référents CLAS"),
    EventType.formation: _l("Formation"),
    EventType.autre: _l("Événement"),
}
STATUS_LABELS = {
    EventStatus.postponed: _l("Reporté"),
    EventStatus.cancelled: _l("Annulé"),
    EventStatus.full: _l("Complet"),
}
REGISTRATION_STATUS_LABELS = {
    RegistrationStatus.confirmed: _l("Inscription confirmée"),
    RegistrationStatus.waitlisted: _l("En liste d'attente"),
    RegistrationStatus.cancelled: _l("Inscription annulée"),
}


@events_bp.app_context_processor
def labels():
    return {"event_type_labels": TYPE_LABELS, "event_status_labels": STATUS_LABELS,
            "registration_status_labels": REGISTRATION_STATUS_LABELS}


@events_bp.route("/agenda/")
def agenda():
    db = session()
    show_past = request.args.get("passes") == "1"
    events = services.past(db) if show_past else services.upcoming(db)
    full = {e.id for e in events if not show_past and services.is_full(db, e)}
    return render_template("events/agenda.html", events=events, show_past=show_past, full=full)


@events_bp.route("/agenda.ics")
def agenda_ics():
    db = session()
    events = services.upcoming(db) + services.past(db)[:50]
    return Response(ics.calendar(events), mimetype="text/calendar",
                    headers={"Content-Disposition": 'inline; filename="agenda.ics"'})


@events_bp.route("/agenda/<int:event_id>/", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def event(event_id: int):
    db = session()
    event = db.get(Event, event_id)
    if event is None:
        abort(404)
    form = RegistrationForm()
    is_open = services.registration_open(event)
    if is_open and form.validate_on_submit():
        try:
            registration = services.register(
                db, event, form.name.data, form.email.data, form.structure.data or "", form.role.data or "",
                form.needs.data or "", form.party_size.data, consent=form.consent.data)
        except services.InvalidEmail as exc:
            form.email.errors.append(str(exc))
        except services.RegistrationClosed:
            flash(_("Les inscriptions à cet événement sont closes."), "error")
            return redirect(url_for(".event", event_id=event_id))
        else:
            if registration.already_registered:
                # Changes nothing, and does not show someone else's link: it goes by e-mail.
                flash(_("Cette adresse est déjà inscrite à cet événement. Nous venons de vous renvoyer "
                        "par e-mail le lien pour consulter ou annuler l'inscription."), "success")
                return redirect(url_for(".event", event_id=event_id))
            if registration.status is RegistrationStatus.waitlisted:
                flash(_("L'événement est complet : vous êtes inscrit·e en liste d'attente. Nous vous "
                        "écrirons si une place se libère."), "success")
            else:
                flash(_("Votre inscription est confirmée. Un e-mail de confirmation vous a été envoyé."), "success")
            return redirect(url_for(".registration", token=registration.token))
    elif request.method == "POST" and not is_open:
        flash(_("Les inscriptions à cet événement sont closes."), "error")
    status = 422 if form.errors else 200
    return render_template("events/event.html", event=event, form=form, is_open=is_open,
                           full=services.is_full(db, event), seats_left=services.seats_left(db, event)), status


@events_bp.route("/agenda/inscription/<token>", methods=["GET", "POST"])
def registration(token: str):
    db = session()
    registration = services.by_token(db, token)
    if registration is None:
        return render_template("events/registration.html", registration=None), 404
    if request.method == "POST":
        # GET never cancels (link scanners follow links): the page shows a button that POSTs.
        if registration.status is not RegistrationStatus.cancelled:
            services.cancel(db, registration)
            flash(_("Votre inscription est annulée. Merci de nous avoir prévenus."), "success")
        return redirect(url_for(".registration", token=token))
    return render_template("events/registration.html", registration=registration, event=registration.event)
