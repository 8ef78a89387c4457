"""The journal page (/redaction/journal): who did what and when, filterable by person, action,
target and dates, 50 lines a page, newest first, and the same selection as CSV."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, or_, select
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from accounts import journal
from accounts.auth import editor_required
from accounts.models import JournalEntry, User
from core.db import session
from core.formatting import PARIS, date_time

journal_bp = Blueprint("journal", __name__, url_prefix="/redaction/journal")

PAGE_SIZE = 50
PLATFORM = "plateforme"  # the person filter's value for lines without an actor (jobs)


class JournalFilters(FlaskForm):
    class Meta:
        csrf = False  # a GET search

    person = SelectField(_l("Personne"), validators=[Optional()], choices=[])
    action = SelectField(_l("Action"), validators=[Optional()], choices=[])
    target = StringField(_l("Cible"), validators=[Optional(), Length(max=80)],
                         description=_l("Par exemple contribution:12, ou contribution: pour toutes."))
    since = DateField(_l("Du"), validators=[Optional()])
    until = DateField(_l("Au"), validators=[Optional()])


def _form() -> JournalFilters:
    db = session()
    form = JournalFilters(request.args)
    people = db.execute(select(JournalEntry.actor_email, func.max(User.name)).outerjoin(
        User, User.id == JournalEntry.actor_id).where(JournalEntry.actor_email.is_not(None))
        .group_by(JournalEntry.actor_email).order_by(JournalEntry.actor_email)).all()
    form.person.choices = [("", _l("Toutes")), (PLATFORM, _l("La plateforme (tâches automatiques)")),
                           *((email, f"{name} ({email})" if name else email) for email, name in people)]
    actions = set(journal.ACTION_LABELS) | set(db.scalars(select(JournalEntry.action).distinct()))
    form.action.choices = [("", _l("Toutes")), *sorted(((a, journal.action_label(a)) for a in actions),
                                                       key=lambda pair: pair[1].lower())]
    return form


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=PARIS)


def _query(form: JournalFilters) -> Select:
    query = select(JournalEntry)
    if form.person.data == PLATFORM:
        query = query.where(JournalEntry.actor_email.is_(None))
    elif form.person.data:
        query = query.where(JournalEntry.actor_email == form.person.data)
    if form.action.data:
        query = query.where(JournalEntry.action == form.action.data)
    target = (form.target.data or "").strip()
    if target:
        # "contribution:12" is that one; "contribution:" or "contribution" are all of a kind.
        if ":" in target and not target.endswith(":"):
            query = query.where(JournalEntry.target == target)
        else:
            kind = target.rstrip(":")
            query = query.where(or_(JournalEntry.target == kind, JournalEntry.target.startswith(kind + ":",
                                                                                                  autoescape=True)))
    if form.since.data:
        query = query.where(JournalEntry.at >= _start_of(form.since.data))
    if form.until.data:
        query = query.where(JournalEntry.at < _start_of(form.until.data + timedelta(days=1)))
    return query


@journal_bp.route("/")
@editor_required
def index():
    form = _form()
    form.validate()
    db = session()
    query = _query(form) if not form.errors else select(JournalEntry).where(False)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    entries = db.scalars(query.order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
                         .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("redaction/journal.html", form=form, entries=entries, total=total, page=page,
                           pages=pages, args=args, label=journal.action_label)


@journal_bp.route("/journal.csv")
@editor_required
def export():
    form = _form()
    form.validate()
    rows = session().scalars(_query(form).order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
                             .limit(100_000)).all()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["date", "personne", "action", "libellé", "cible", "résumé"])
    for entry in rows:
        writer.writerow([date_time(entry.at), entry.actor_email or "plateforme", entry.action,
                         journal.action_label(entry.action), entry.target or "",
                         _neutral(entry.summary)])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="journal.csv"'})


def _neutral(value: str) -> str:
    """A cell a spreadsheet reads as text, never as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
