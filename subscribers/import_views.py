"""The editors' import of subscribers: upload a CSV → a preview of what will happen → confirm →
the result. Between the two steps the file is kept under the data directory
(`imports/<token>.csv`) with its SubscriberImport row; confirming judges it again against the list
as it is then (someone may have unsubscribed meanwhile)."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from accounts import journal
from accounts.auth import editor_required
from core.db import session, utcnow
from core.forms import EmptyForm
from core.settings import get_settings
from subscribers import import_files, importer
from subscribers.models import LegalBasis, SubscriberImport, SubscriberStatus

import_bp = Blueprint("subscriber_import", __name__, url_prefix="/redaction/abonnes/import")

journal.register_actions({"subscribers.imported": _l("Abonnés importés")})

PREVIEW_ROWS = 10      # first rows of each category shown
REFUSED_SHOWN = 1000   # refused rows listed (all of them are counted)


class UploadForm(FlaskForm):
    file = FileField(_l("Fichier CSV"), validators=[FileRequired(_l("Choisissez un fichier CSV."))])


def _path(record: SubscriberImport) -> Path:
    return import_files.preview_path(record)


def _limit_message() -> str:
    return _("Fichier trop gros : la limite est de %(n)s Mo. Découpez-le en plusieurs fichiers.",
             n=get_settings().subscriber_import_max_mb)


@import_bp.url_value_preprocessor
def _upload_limit(_endpoint, _values) -> None:
    # Before the CSRF check reads the form: an upload larger than the limit stops at the limit
    # (plus room for the form's other fields) with the page's message, not a bare 413.
    request.max_content_length = importer.max_bytes() + 65_536


@import_bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    form = UploadForm(formdata=None)
    return render_template("redaction/subscribers_import.html", form=form, error=_limit_message(),
                           limit=get_settings().subscriber_import_max_mb), 413


def _record(token: str, lock: bool = False) -> SubscriberImport:
    query = select(SubscriberImport).where(SubscriberImport.token == token)
    if lock and not get_settings().is_sqlite:
        query = query.with_for_update()
    record = session().scalar(query)
    if record is None:
        abort(404)
    return record


@import_bp.route("/", methods=["GET", "POST"])
@editor_required
def upload():
    form = UploadForm()
    error = None
    limit = get_settings().subscriber_import_max_mb
    if form.validate_on_submit():
        storage = form.file.data
        raw = storage.read(importer.max_bytes() + 1)
        filename = Path(storage.filename or "abonnes.csv").name[:255] or "abonnes.csv"
        try:
            plan = importer.classify(session(), importer.parse(raw, filename, max_bytes=importer.max_bytes()))
        except importer.ImportFileError as exc:
            error = str(exc)
        else:
            record = SubscriberImport(filename=filename, actor=current_user.email, status="preview",
                                      counts=plan.counts())
            session().add(record)
            session().flush()
            _path(record).write_bytes(raw)
            return redirect(url_for(".preview", token=record.token))
    status = 422 if (error or form.errors) else 200
    return render_template("redaction/subscribers_import.html", form=form, error=error, limit=limit), status


def _plan(record: SubscriberImport) -> importer.ImportPlan:
    path = _path(record)
    if not path.exists():
        abort(410)
    return importer.classify(session(), importer.parse(path.read_bytes(), record.filename))


def _new_label(row: importer.Row) -> str:
    if row.consent_at is not None:
        return _("actif : consentement du %(date)s", date=row.consent_at.strftime("%d/%m/%Y"))
    if row.basis is LegalBasis.legitimate_interest:
        return _("actif : intérêt légitime (recevra le mail de bienvenue)")
    return _("en attente : recevra une demande de confirmation")


@import_bp.route("/<token>")
@editor_required
def preview(token: str):
    record = _record(token)
    if record.status != "preview":
        return redirect(url_for(".result", token=token))
    try:
        plan = _plan(record)
    except importer.ImportFileError as exc:  # read at upload: only a changed file gets here
        abort(410, str(exc))
    return render_template("redaction/subscribers_import_preview.html", record=record, plan=plan,
                           counts=plan.counts(), shown=PREVIEW_ROWS, refused_shown=REFUSED_SHOWN,
                           new_label=_new_label, field_labels=importer.FIELD_LABELS, form=EmptyForm(),
                           statuses=SubscriberStatus)


@import_bp.route("/<token>/confirmer", methods=["POST"])
@editor_required
def confirm(token: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    db = session()
    record = _record(token, lock=True)  # a double click waits here, then finds the import done
    if record.status != "preview":
        return redirect(url_for(".result", token=token))
    plan = _plan(record)
    importer.apply(db, plan, actor=current_user.email)
    counts = plan.counts()
    journal.record(db, current_user._get_current_object(), "subscribers.imported",
                   f"Import d'abonnés depuis {record.filename} : {counts['imported']} nouveaux, "
                   f"{counts['updated']} mis à jour, {counts['skipped']} lignes refusées",
                   target=f"subscriber_import:{record.id}",
                   details={k: counts[k] for k in ("imported", "updated", "unchanged", "skipped") if k in counts})
    record.status = "done"
    record.finished_at = utcnow()
    record.counts = {**plan.counts(), "refused": [[r.line, r.email, r.reason] for r in plan.skipped[:REFUSED_SHOWN]],
                     "notes": plan.parsed.notes}
    _path(record).unlink(missing_ok=True)
    return redirect(url_for(".result", token=token))


@import_bp.route("/<token>/abandonner", methods=["POST"])
@editor_required
def abandon(token: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    record = _record(token, lock=True)
    if record.status == "preview":
        record.status = "abandoned"
        record.finished_at = utcnow()
        _path(record).unlink(missing_ok=True)
    return redirect(url_for(".upload"))


@import_bp.route("/<token>/resultat")
@editor_required
def result(token: str):
    record = _record(token)
    if record.status == "preview":
        return redirect(url_for(".preview", token=token))
    return render_template("redaction/subscribers_import_result.html", record=record, counts=record.counts or {})
