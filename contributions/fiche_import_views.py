"""The editors' import of fiches action in the browser (/redaction/fiches/import), the same flow as
the subscribers' import: upload → preview (what `parentalites import actions` reports: counts,
refused records and why) → confirm → result.

The preview is a dry run of the importer itself (contributions.importer.import_actions) inside a
SAVEPOINT that is rolled back, so it says exactly what confirming will do. Between the steps the
file is kept under the data directory (`imports/fiches/<token>/<file name>`, the name the fiches'
history cites) with a small JSON of the preview, then of the result; confirming moves the folder
first, so a double click imports once."""
from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from accounts import journal
from accounts.auth import editor_required
from contributions import importer
from core.db import session
from core.forms import EmptyForm
from core.settings import get_settings

fiche_import_bp = Blueprint("fiche_import", __name__, url_prefix="/redaction/fiches/import")

journal.register_actions({"fiches.imported": _l("Fiches action importées")})

REFUSED_SHOWN = 500
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}$")


class FicheUploadForm(FlaskForm):
    file = FileField(_l("Fichier des fiches action"),
                     validators=[FileRequired(_l("Choisissez un fichier (export texte ou CSV)."))],
                     description=_l("L'export texte de la base nationale des actions des centres sociaux, "
                                    "ou un CSV avec une colonne par champ."))


def _root() -> Path:
    path = get_settings().data_dir / "imports" / "fiches"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _folder(token: str) -> Path:
    if not _TOKEN.match(token):
        abort(404)
    return _root() / token


def _state(token: str) -> dict:
    folder = _folder(token)
    for name in ("state.json", "running/state.json"):
        if (folder / name).exists():
            return json.loads((folder / name).read_text(encoding="utf-8"))
    abort(404)


def _write_state(folder: Path, state: dict) -> None:
    (folder / "state.json").write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def _summary(report: importer.Report) -> dict:
    return {"imported": report.imported, "updated": report.updated, "unchanged": report.unchanged,
            "skipped": report.skipped, "notes": list(report.notes),
            "refused": [{"line": line.line, "title": line.title, "reason": line.reason}
                        for line in report.lines if line.outcome == "skipped"][:REFUSED_SHOWN],
            "changed": [{"line": line.line, "title": line.title, "outcome": line.outcome, "reason": line.reason,
                         "id": line.contribution_id}
                        for line in report.lines if line.outcome in ("imported", "updated")][:REFUSED_SHOWN]}


def dry_run(path: Path) -> importer.Report:
    """What importing the file would do, nothing kept: the importer in a SAVEPOINT rolled back."""
    db = session()
    savepoint = db.begin_nested()
    try:
        return importer.import_actions(db, path, current_user._get_current_object())
    finally:
        savepoint.rollback()


@fiche_import_bp.route("/", methods=["GET", "POST"])
@editor_required
def upload():
    form = FicheUploadForm()
    error = None
    if form.validate_on_submit():
        storage = form.file.data
        filename = Path(storage.filename or "fiches.txt").name[:120] or "fiches.txt"
        if Path(filename).suffix.lower() not in (".txt", ".csv"):
            error = _("Le fichier doit être un export texte (.txt) ou un CSV (.csv).")
        else:
            token = secrets.token_urlsafe(18)
            folder = _folder(token)
            folder.mkdir()
            path = folder / filename
            storage.save(path)
            try:
                report = dry_run(path)
            except importer.ImportFileError as exc:
                shutil.rmtree(folder, ignore_errors=True)
                error = str(exc)
            else:
                _write_state(folder, {"status": "preview", "filename": filename, "preview": _summary(report),
                                      "by": current_user.email})
                return redirect(url_for(".preview", token=token))
    return render_template("redaction/fiches_import.html", form=form, error=error), \
        422 if (error or form.errors) else 200


@fiche_import_bp.route("/<token>")
@editor_required
def preview(token: str):
    state = _state(token)
    if state["status"] != "preview":
        return redirect(url_for(".result", token=token))
    return render_template("redaction/fiches_import_preview.html", token=token, state=state,
                           counts=state["preview"], form=EmptyForm())


@fiche_import_bp.route("/<token>/confirmer", methods=["POST"])
@editor_required
def confirm(token: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    folder = _folder(token)
    running = folder / "running"
    try:
        running.mkdir()  # the claim: a second click finds it taken
    except FileNotFoundError:
        abort(404)
    except FileExistsError:
        return redirect(url_for(".result", token=token))
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    if state["status"] != "preview":
        return redirect(url_for(".result", token=token))
    path = folder / state["filename"]
    db = session()
    actor = current_user._get_current_object()
    try:
        report = importer.import_actions(db, path, actor)
    except importer.ImportFileError as exc:
        abort(410, str(exc))
    result = _summary(report)
    journal.record(db, actor, "fiches.imported",
                   f"Import de fiches action depuis {state['filename']} : {report.summary_fr}",
                   target=f"import:{token}",
                   details={k: result[k] for k in ("imported", "updated", "unchanged", "skipped")})
    state.update(status="done", result=result)
    _write_state(folder, state)
    path.unlink(missing_ok=True)
    return redirect(url_for(".result", token=token))


@fiche_import_bp.route("/<token>/abandonner", methods=["POST"])
@editor_required
def abandon(token: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    folder = _folder(token)
    state = _state(token)
    if state["status"] == "preview" and not (folder / "running").exists():
        shutil.rmtree(folder, ignore_errors=True)
    return redirect(url_for(".upload"))


@fiche_import_bp.route("/<token>/resultat")
@editor_required
def result(token: str):
    state = _state(token)
    if state["status"] == "preview":
        return redirect(url_for(".preview", token=token))
    return render_template("redaction/fiches_import_result.html", state=state, counts=state["result"])
