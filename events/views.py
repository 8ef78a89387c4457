"""The events blueprint, all its URL rules in one place.

Public: /agenda/ (network and accepted partner events, upcoming, or past with ?passes=1),
/agenda/<id>/ (details and registration), /agenda/partenaires/<id>/ (a partner's event),
/agenda/inscription/<token> (see or cancel one's registration), /agenda.ics.
Editors: /redaction/evenements/… (list, create, edit, cancel; registrations with filters and
counts, attendance, cancelling a registration, the printable attendance sheet, the CSV export).
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms import SelectChoice

from accounts import journal
from accounts.auth import editor_required
from core.db import session, utcnow
from core.extensions import limiter
from core.formatting import PARIS, date_time
from core.forms import EmptyForm
from core.http_cache import cacheable
from core.web import ids
from events import attendance, editing, ics, services
from events.forms import CancelEventForm, EventForm, RegistrationForm
from events.models import (
    Event,
    EventStatus,
    EventType,
    Registration,
    RegistrationStatus,
)
from subscribers.forms import role_choices, topic_choices

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
    RegistrationStatus.unconfirmed: _l("Inscription à confirmer"),
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
    partner_events = services.partner_events(db, past=show_past)
    full = {e.id for e in events if not show_past and services.is_full(db, e)}
    # One list, network and partner events together, in date order.
    items = [("event", e.starts_at, e) for e in events] + [("partner", c.event_start, c) for c in partner_events]
    items.sort(key=lambda item: item[1], reverse=show_past)
    return render_template("events/agenda.html", items=items, events=events, show_past=show_past, full=full)


ICS_MAX_AGE = 300  # seconds a calendar client or cache may keep it before asking again


@events_bp.route("/agenda.ics")
def agenda_ics():
    db = session()
    events = services.upcoming(db) + services.past(db)[:50]
    partner_events = services.partner_events(db) + services.partner_events(db, past=True)[:50]
    response = Response(ics.calendar(events, partner_events=partner_events), mimetype="text/calendar",
                        headers={"Content-Disposition": 'inline; filename="agenda.ics"'})
    changed = max([e.updated_at for e in events] + [c.updated_at for c in partner_events], default=None)
    return cacheable(response, max_age=ICS_MAX_AGE, last_modified=changed)  # ETag: the body's digest


@events_bp.route("/agenda/partenaires/<int:contribution_id>/")
def partner_event(contribution_id: int):
    contribution = services.partner_event(session(), contribution_id) or abort(404)
    return render_template("events/partner_event.html", contribution=contribution)


def _registration_address_key() -> str:
    """The per-address rate limit's key: the address typed in the form, roughly normalised."""
    return "event-address:" + (request.form.get("email") or "").strip().lower()[:254]


@events_bp.route("/agenda/<int:event_id>/", methods=["GET", "POST"])
@limiter.limit("10/hour", methods=["POST"])  # per client
@limiter.limit("3/hour", methods=["POST"], key_func=_registration_address_key)  # per address, whoever asks
def event(event_id: int):
    db = session()
    event = db.get(Event, event_id)
    if event is None:
        abort(404)
    form = RegistrationForm.for_event(services.max_party_size(event))
    is_open = services.registration_open(event)
    if is_open and form.validate_on_submit():
        try:
            services.request_registration(
                db, event, form.name.data, form.email.data, form.structure.data or "", form.role.data or "",
                form.needs.data or "", form.party_size.data, consent=form.consent.data)
        except services.InvalidEmail as exc:
            form.email.errors.append(str(exc))
        except services.PartyTooLarge as exc:
            form.party_size.errors.append(_("Indiquez un nombre de personnes entre 1 et %(max)s.", max=exc.limit))
        except services.RegistrationClosed:
            flash(_("Les inscriptions à cet événement sont closes."), "error")
            return redirect(url_for(".event", event_id=event_id))
        else:
            # The same answer whether the address was new or already registered, and never the
            # registration's link: it goes to the mailbox, which proves the address (issue 13 #8).
            # Not even the address: the answer is the same bytes for everyone (issue 13 #12).
            flash(_("Vérifiez vos e-mails : nous venons d'envoyer à cette adresse un lien pour confirmer votre "
                    "inscription. Votre place n'est réservée qu'une fois l'inscription confirmée."), "success")
            return redirect(url_for(".event", event_id=event_id))
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
    return render_template("events/registration.html", registration=registration, event=registration.event,
                           waitlist_place=services.waitlist_place(db, registration))


@events_bp.route("/agenda/inscription/<token>/confirmer", methods=["POST"])
def confirm_registration(token: str):
    """The button of the page the e-mailed link opens (a GET confirms nothing: link scanners)."""
    db = session()
    registration = services.by_token(db, token)
    if registration is None:
        return render_template("events/registration.html", registration=None), 404
    try:
        confirmed = services.confirm_address(db, registration)
    except services.RegistrationClosed:
        flash(_("Les inscriptions à cet événement sont closes."), "error")
    else:
        if confirmed and registration.status is RegistrationStatus.waitlisted:
            flash(_("Adresse confirmée. L'événement est complet : vous êtes inscrit·e en liste d'attente. "
                    "Nous vous écrirons si une place se libère."), "success")
        elif confirmed:
            flash(_("Votre inscription est confirmée. Un e-mail de confirmation vous a été envoyé."), "success")
    return redirect(url_for(".registration", token=token))


# --- Back office: the editor's events ---------------------------------------------------------------

EDITABLE_STATUSES = (EventStatus.scheduled, EventStatus.full, EventStatus.postponed)
EDITOR_STATUS_LABELS = {
    EventStatus.scheduled: _l("Prévu (inscriptions selon les places)"),
    EventStatus.full: _l("Complet (nouvelles inscriptions en liste d'attente)"),
    EventStatus.postponed: _l("Reporté (date à préciser)"),
}


def _to_utc(value: datetime | None) -> datetime | None:
    """A time typed in the form is Paris time."""
    return value.replace(tzinfo=PARIS).astimezone(UTC) if value else None


def _to_paris(value: datetime | None) -> datetime | None:
    return value.astimezone(PARIS).replace(tzinfo=None) if value else None


def _event_form(event: Event | None = None) -> EventForm:
    data: dict[str, Any] = {"reminder_days": "7,1", "type": EventType.soiree_reaap.value,
                            "status": EventStatus.scheduled.value}
    if event is not None:
        data = {name: getattr(event, name) for name in (
            "title", "description_md", "place", "address", "access_info", "accessibility_info", "online_url",
            "capacity", "max_party_size", "organiser", "contact_email", "reminder_days", "survey_url")}
        data.update({name: _to_paris(getattr(event, name)) for name in (
            "starts_at", "ends_at", "registration_opens_at", "registration_closes_at")})
        data.update(type=event.type.value, status=event.status.value,
                    topics=(event.audience or {}).get("topics", []), roles=(event.audience or {}).get("roles", []))
    form = EventForm(data=data)
    form.type.choices = [SelectChoice(t.value, str(label)) for t, label in TYPE_LABELS.items()]
    form.status.choices = [SelectChoice(s.value, str(EDITOR_STATUS_LABELS[s])) for s in EDITABLE_STATUSES]
    form.topics.choices = topic_choices()
    form.roles.choices = role_choices()
    return form


def _event_data(form: EventForm) -> editing.EventData:
    starts_at, ends_at = _to_utc(form.starts_at.data), _to_utc(form.ends_at.data)
    assert starts_at is not None and ends_at is not None  # InputRequired: the form was validated
    return editing.EventData(
        type=EventType(form.type.data), title=form.title.data or "", description_md=form.description_md.data or "",
        starts_at=starts_at, ends_at=ends_at,
        place=form.place.data or "", address=form.address.data or "", access_info=form.access_info.data or "",
        accessibility_info=form.accessibility_info.data or "", online_url=form.online_url.data,
        capacity=form.capacity.data, max_party_size=form.max_party_size.data,
        registration_opens_at=_to_utc(form.registration_opens_at.data),
        registration_closes_at=_to_utc(form.registration_closes_at.data),
        audience=editing.audience(form.topics.data, form.roles.data), status=EventStatus(form.status.data),
        organiser=form.organiser.data or "", contact_email=form.contact_email.data,
        reminder_days=form.reminder_days.data or "", survey_url=form.survey_url.data)


def _admin_event(event_id: int) -> Event:
    return session().get(Event, event_id) or abort(404)


@events_bp.route("/redaction/evenements/")
@editor_required
def admin_list():
    db = session()
    upcoming, past = services.upcoming(db), services.past(db)
    summaries = {e.id: attendance.summary(db, e) for e in upcoming + past}
    return render_template("redaction/events.html", upcoming=upcoming, past=past, summaries=summaries)


journal.register_actions({
    "event.created": _l("Événement créé"), "event.edited": _l("Événement modifié"),
    "event.cancelled": _l("Événement annulé"), "event.registration_cancelled": _l("Inscription annulée"),
})


def _journal(action: str, summary: str, event: Event) -> None:
    journal.record(session(), current_user._get_current_object(), action, summary, target=f"event:{event.id}")


@events_bp.route("/redaction/evenements/nouveau", methods=["GET", "POST"])
@editor_required
def admin_new():
    db = session()
    form = _event_form()
    if form.validate_on_submit():
        try:
            event = editing.create_event(db, _event_data(form))
        except editing.EventError as exc:
            flash(str(exc), "error")
        else:
            _journal("event.created", f"Événement créé : « {event.title} » ({date_time(event.starts_at)})", event)
            flash(_("Événement créé. Il est visible dans l'agenda."), "success")
            return redirect(url_for(".admin_registrations", event_id=event.id))
    status = 422 if form.errors else 200
    return render_template("redaction/events_form.html", form=form, event=None), status


@events_bp.route("/redaction/evenements/<int:event_id>/", methods=["GET", "POST"])
@editor_required
def admin_edit(event_id: int):
    db = session()
    event = _admin_event(event_id)
    form = _event_form(event)
    if event.is_cancelled:
        return render_template("redaction/events_form.html", form=form, event=event)
    if form.validate_on_submit():
        try:
            notified = editing.update_event(db, event, _event_data(form))
        except editing.EventError as exc:
            flash(str(exc), "error")
        else:
            _journal("event.edited", f"Événement modifié : « {event.title} »"
                     + (" (inscrit·e·s prévenu·e·s)" if notified else ""), event)
            flash(_("Événement enregistré. Les personnes inscrites reçoivent la mise à jour.") if notified
                  else _("Événement enregistré."), "success")
            return redirect(url_for(".admin_edit", event_id=event.id))
    status = 422 if form.errors else 200
    return render_template("redaction/events_form.html", form=form, event=event,
                           summary=attendance.summary(db, event)), status


@events_bp.route("/redaction/evenements/<int:event_id>/annuler", methods=["GET", "POST"])
@editor_required
def admin_cancel(event_id: int):
    db = session()
    event = _admin_event(event_id)
    form = CancelEventForm()
    if not event.is_cancelled and form.validate_on_submit():
        editing.cancel_event(db, event)
        _journal("event.cancelled", f"Événement annulé : « {event.title} »", event)
        flash(_("Événement annulé. Les personnes inscrites sont prévenues par e-mail."), "success")
        return redirect(url_for(".admin_registrations", event_id=event.id))
    status = 422 if form.errors else 200
    return render_template("redaction/events_cancel.html", event=event, form=form,
                           summary=attendance.summary(db, event)), status


@events_bp.route("/redaction/evenements/<int:event_id>/inscriptions")
@editor_required
def admin_registrations(event_id: int):
    db = session()
    event = _admin_event(event_id)
    filters = attendance.Filters.from_args(request.args)
    return render_template(
        "redaction/events_registrations.html", event=event, filters=filters,
        registrations=attendance.registrations(db, event, filters), summary=attendance.summary(db, event),
        waitlist_places=attendance.waitlist_places(db, event),
        by_structure=attendance.counts_by(db, event, Registration.structure),
        by_role=attendance.counts_by(db, event, Registration.role),
        structures=attendance.distinct_values(db, event, Registration.structure),
        roles=attendance.distinct_values(db, event, Registration.role),
        none=attendance.NONE, form=EmptyForm())


def _ids(name: str) -> list[int]:
    return ids(request.form.getlist(name))


@events_bp.route("/redaction/evenements/<int:event_id>/presences", methods=["POST"])
@editor_required
def admin_attendance(event_id: int):
    db = session()
    event = _admin_event(event_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    changed = attendance.mark_attendance(db, event, _ids("shown"), _ids("present"))
    flash(ngettext("Présences enregistrées (%(num)s modification).", "Présences enregistrées (%(num)s modifications).",
                   changed), "success")
    filters = attendance.Filters.from_args(request.form)
    values: dict[str, Any] = {"event_id": event.id, **filters.as_args()}  # url_for's own keywords are not str
    return redirect(url_for(".admin_registrations", **values) + "#presences")


@events_bp.route("/redaction/evenements/<int:event_id>/inscriptions/<int:registration_id>/annuler",
                 methods=["GET", "POST"])
@editor_required
def admin_cancel_registration(event_id: int, registration_id: int):
    db = session()
    event = _admin_event(event_id)
    registration = db.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        abort(404)
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        promoted = services.cancel(db, registration, by_editor=True)
        _journal("event.registration_cancelled", f"Inscription de {registration.name} à « {event.title} » annulée "
                 "par la rédaction", event)
        message = _("Inscription de %(name)s annulée.", name=registration.name)
        if promoted:
            message += " " + ngettext("Confirmé·e depuis la liste d'attente et prévenu·e : %(names)s.",
                                      "Confirmé·e·s depuis la liste d'attente et prévenu·e·s : %(names)s.",
                                      len(promoted), names=", ".join(r.name for r in promoted))
        flash(message, "success")
        return redirect(url_for(".admin_registrations", event_id=event.id))
    return render_template("redaction/events_cancel_registration.html", event=event,
                           registration=registration, form=form)


@events_bp.route("/redaction/evenements/<int:event_id>/emargement")
@editor_required
def admin_sheet(event_id: int):
    db = session()
    event = _admin_event(event_id)
    rows = attendance.registrations(db, event, attendance.Filters(status=RegistrationStatus.confirmed.value))
    rows.sort(key=lambda r: (r.name.casefold(), r.position))
    return render_template("redaction/events_sheet.html", event=event, rows=rows,
                           summary=attendance.summary(db, event))


@events_bp.route("/redaction/evenements/<int:event_id>/inscriptions.csv")
@editor_required
def admin_csv(event_id: int):
    db = session()
    event = _admin_event(event_id)
    rows = attendance.registrations(db, event, attendance.Filters.from_args(request.args))
    filename = f"inscriptions-evenement-{event.id}-{utcnow().astimezone(PARIS):%Y%m%d}.csv"
    return Response(attendance.registrations_csv(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
