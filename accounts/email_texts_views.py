"""The editors' page of transactional e-mail texts (/redaction/modeles): per e-mail, its subject
and text body with the variables it offers, a preview with sample values, a test send to the
editor's own address, and « revenir au texte par défaut ». The rules (sandbox, limits, what is
refused) live in mailing/editable.py; this page only saves a text that passed them. It lives here,
in accounts, because it is the lowest layer that has the editors' guard."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired

from accounts import journal
from accounts.auth import editor_required
from core.db import session, utcnow
from core.forms import EmptyForm
from core.web import EMAIL_PAGE_CSP
from mailing import editable
from mailing.models import EmailTemplateOverride
from mailing.outbox import queue_rendered
from mailing.templates import EMAIL_DIR, MJMLError, RenderedEmail, render_default, render_override

email_texts_bp = Blueprint("email_texts", __name__, url_prefix="/redaction/modeles")

journal.register_actions({
    "email_template.edited": _l("Modèle d'e-mail modifié"),
    "email_template.reset": _l("Modèle d'e-mail remis par défaut"),
    "email_template.test_sent": _l("Modèle d'e-mail : essai envoyé"),
})


class EmailTextForm(FlaskForm):
    subject = StringField(_l("Objet"), validators=[DataRequired(message=_l("L'objet ne peut pas être vide."))])
    body = TextAreaField(_l("Texte"), validators=[DataRequired(message=_l("Le texte ne peut pas être vide."))],
                         render_kw={"rows": 20, "spellcheck": "true"})


def _email(name: str) -> editable.EditableEmail:
    email = editable.EDITABLE.get(name)
    if email is None:
        abort(404)
    return email


def _default(name: str) -> tuple[str, str]:
    folder = EMAIL_DIR / name
    subject = (folder / "subject.txt").read_text(encoding="utf-8").strip()
    return subject, (folder / "body.txt").read_text(encoding="utf-8")


def _sample_without_settings(email: editable.EditableEmail) -> dict:
    return {k: v for k, v in email.sample.items() if k != "settings"}


def _rendered(email: editable.EditableEmail, override: EmailTemplateOverride | None) -> RenderedEmail:
    """The e-mail as sent today, with the sample values."""
    if override is not None:
        return render_override(email.name, override.subject, override.body_text, email.sample)
    from core.settings import get_settings
    return render_default(email.name, {"settings": get_settings(), **_sample_without_settings(email)})


@email_texts_bp.route("/")
@editor_required
def index():
    overrides = {o.name: o for o in session().scalars(select(EmailTemplateOverride))}
    return render_template("redaction/email_texts.html", emails=list(editable.EDITABLE.values()),
                           overrides=overrides)


def _refused(form: EmailTextForm, message: str) -> None:
    (form.subject if message.startswith("Objet") else form.body).errors.append(message)


@email_texts_bp.route("/<name>", methods=["GET", "POST"])
@editor_required
def edit(name: str):
    email = _email(name)
    db = session()
    override = db.get(EmailTemplateOverride, name)
    subject, body = (override.subject, override.body_text) if override else _default(name)
    form = EmailTextForm(data={"subject": subject, "body": body})
    preview = None
    action = request.form.get("action", "preview")
    if form.validate_on_submit():
        try:
            checked = editable.sample_check(name, form.subject.data, form.body.data)
        except editable.TemplateRefused as exc:
            _refused(form, str(exc))
        else:
            preview = checked
            actor = current_user._get_current_object()
            if action == "save":
                if override is None:
                    override = EmailTemplateOverride(name=name, subject="", body_text="")
                    db.add(override)
                override.subject, override.body_text = form.subject.data, form.body.data.replace("\r\n", "\n")
                override.updated_at, override.updated_by = utcnow(), actor.email
                journal.record(db, actor, "email_template.edited", f"Texte de l'e-mail « {email.label} » modifié",
                               target=f"email_template:{name}")
                flash(_("Texte enregistré : les prochains e-mails « %(label)s » l'utiliseront.", label=email.label),
                      "success")
                return redirect(url_for(".edit", name=name))
            if action == "test":
                try:
                    rendered = render_override(name, form.subject.data, form.body.data, email.sample)
                except (editable.TemplateRefused, MJMLError) as exc:
                    _refused(form, str(exc))
                else:
                    queue_rendered(db, name, actor.email, rendered, subject_prefix="[Essai] ")
                    journal.record(db, actor, "email_template.test_sent",
                                   f"Essai de l'e-mail « {email.label} » envoyé à {actor.email}",
                                   target=f"email_template:{name}")
                    flash(_("Essai envoyé à %(email)s (valeurs d'exemple).", email=actor.email), "success")
                    return redirect(url_for(".edit", name=name))
    if request.method == "GET":
        try:
            preview = editable.sample_check(name, subject, body)
        except editable.TemplateRefused:
            preview = None
    status = 422 if form.errors else 200
    return render_template("redaction/email_text.html", email=email, form=form, override=override,
                           preview=preview, describe=editable.describe, reset_form=EmptyForm(),
                           limits={"range": editable.MAX_RANGE, "output": editable.MAX_OUTPUT}), status


@email_texts_bp.route("/<name>/apercu")
@editor_required
def preview_html(name: str):
    """The e-mail as it leaves today (the saved text, or the default), with the sample values."""
    email = _email(name)
    rendered = _rendered(email, session().get(EmailTemplateOverride, name))
    return Response(rendered.html, mimetype="text/html", headers={"Content-Security-Policy": EMAIL_PAGE_CSP})


@email_texts_bp.route("/<name>/defaut", methods=["POST"])
@editor_required
def reset(name: str):
    email = _email(name)
    if not EmptyForm().validate_on_submit():
        abort(400)
    db = session()
    override = db.get(EmailTemplateOverride, name)
    if override is not None:
        db.delete(override)
        journal.record(db, current_user._get_current_object(), "email_template.reset",
                       f"E-mail « {email.label} » revenu au texte par défaut", target=f"email_template:{name}")
    flash(_("L'e-mail « %(label)s » utilise de nouveau le texte par défaut.", label=email.label), "success")
    return redirect(url_for(".edit", name=name))
