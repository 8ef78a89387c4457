"""Back office: the editorial calendar (/redaction/calendrier). Also gives every template
`next_deadline()`, shown in the partner space."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, NumberRange, Optional

from accounts.auth import editor_required
from core import site_settings
from core.db import session
from core.forms import EmptyForm
from core.settings import get_settings
from newsletter import calendar
from newsletter import issues as issue_service
from newsletter.models import PlannedIssue

calendar_bp = Blueprint("calendar", __name__, url_prefix="/redaction/calendrier")


class GenerateForm(FlaskForm):
    year = IntegerField(_l("Année"), validators=[DataRequired(message=_l("Indiquez une année.")),
                                                 NumberRange(min=2000, max=2100, message=_l("Année invalide."))])
    count = IntegerField(_l("Nombre de lettres dans l'année"),
                         validators=[Optional(), NumberRange(min=1, max=12, message=_l("Entre 1 et 12."))])


class PlannedForm(FlaskForm):
    issue_date = DateField(_l("Date de parution"), validators=[DataRequired(message=_l("Indiquez une date."))])
    deadline = DateField(_l("Date limite des contributions"), validators=[Optional()],
                         description=_l("Vide : quatre semaines avant la parution."))
    note = TextAreaField(_l("Note (reprise dans l'appel à contributions)"), validators=[Optional()])
    issue_id = SelectField(_l("Numéro correspondant"), coerce=lambda v: int(v) if v else None,
                           validators=[Optional()], choices=[])


@calendar_bp.app_context_processor
def deadline_helper():
    # A function, so that only the pages that show it query the database.
    return {"next_deadline": lambda: calendar.next_deadline(session())}


@calendar_bp.route("", methods=["GET", "POST"])
@editor_required
def index():
    db = session()
    generate_form = GenerateForm(prefix="gen")
    add_form = PlannedForm(prefix="add")
    add_form.issue_id.choices = [SelectChoice("", "—")]
    today = calendar.paris_today()
    if request.method == "GET":
        generate_form.year.data = today.year if today.month < 10 else today.year + 1
        generate_form.count.data = site_settings.current().issues_per_year
    elif "gen-year" in request.form:
        if generate_form.validate_on_submit():
            try:
                created = calendar.generate_year(db, generate_form.year.data, generate_form.count.data)
            except calendar.CalendarError as exc:
                flash(str(exc), "error")
            else:
                flash(ngettext("%(num)s lettre ajoutée au calendrier %(year)s.",
                               "%(num)s lettres ajoutées au calendrier %(year)s.", len(created),
                        year=generate_form.year.data), "success")
                return redirect(url_for(".index"))
    elif add_form.validate_on_submit():
        try:
            calendar.add_planned(db, add_form.issue_date.data, add_form.deadline.data, add_form.note.data or "")
        except calendar.CalendarError as exc:
            add_form.deadline.errors.append(str(exc))
        else:
            flash(_("Lettre ajoutée au calendrier."), "success")
            return redirect(url_for(".index"))
    errors = generate_form.errors or add_form.errors
    return render_template("redaction/calendar.html", planned=calendar.planned_issues(db),
                           generate_form=generate_form, add_form=add_form, today=today,
                           call_date=calendar.call_date, next_planned=calendar.next_deadline(db),
                           days=get_settings().call_for_contributions_days), 422 if errors else 200


def _planned(planned_id: int) -> PlannedIssue:
    return session().get(PlannedIssue, planned_id) or abort(404)


@calendar_bp.route("/<int:planned_id>", methods=["GET", "POST"])
@editor_required
def edit(planned_id: int):
    db = session()
    planned = _planned(planned_id)
    form = PlannedForm(obj=planned)
    form.issue_id.choices = [SelectChoice("", "—")] + [SelectChoice(i.id, _("N°%(n)s : %(t)s", n=i.numero, t=i.title))
                                          for i in issue_service.list_issues(db)]
    if form.validate_on_submit():
        try:
            calendar.update_planned(db, planned, form.issue_date.data,
                                    form.deadline.data or form.issue_date.data - calendar.DEADLINE_BEFORE_ISSUE,
                                    form.note.data or "", form.issue_id.data)
        except calendar.CalendarError as exc:
            db.rollback()
            form.deadline.errors.append(str(exc))
        else:
            flash(_("Calendrier enregistré."), "success")
            return redirect(url_for(".index"))
    return render_template("redaction/planned_issue.html", planned=planned, form=form,
                           delete_form=EmptyForm(), call_date=calendar.call_date(planned)), 422 if form.errors else 200


@calendar_bp.route("/<int:planned_id>/supprimer", methods=["POST"])
@editor_required
def delete(planned_id: int):
    planned = _planned(planned_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if request.form.get("confirm") != "1":
        flash(_("Cochez la case de confirmation pour retirer cette lettre du calendrier."), "error")
        return redirect(url_for(".edit", planned_id=planned.id))
    calendar.delete_planned(session(), planned)
    flash(_("Lettre retirée du calendrier."), "success")
    return redirect(url_for(".index"))
