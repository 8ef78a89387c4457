"""The site's settings page (/redaction/parametres, admins only) and the logo it serves.

What is typed here wins over the environment (core/site_settings.py); each field can go back to
the environment's value. Every change is logged and journalled (`settings.changed`, old → new) in
the request's one transaction; a refused value (a colour too light for white text, a file that is
not an image…) saves nothing and the page comes back with what was typed and why (422).
"""
from __future__ import annotations

import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from PIL import Image
from wtforms import StringField, TextAreaField

from accounts import journal
from accounts.auth import admin_required
from contributions.uploads import UploadError, process_image
from core import site_settings
from core.db import session

LOGO_MAX_WIDTH = 400  # px: shown at most 200 px wide in the letter, twice that for sharp screens

journal.register_actions({"settings.changed": _l("Paramètre du site modifié")})

site_settings_bp = Blueprint("site_settings", __name__)


class SiteSettingsForm(FlaskForm):
    network_name = StringField(_l("Nom du réseau"), description=_l(
        "Signe les articles du réseau et figure en tête de chaque e-mail."))
    sender_name = StringField(_l("Nom de l'expéditeur"), description=_l("Ce que les abonnés voient dans leur boîte."))
    sender_address = StringField(_l("Adresse de l'expéditeur"), description=_l(
        "Son domaine doit autoriser notre serveur d'envoi (SPF) et, si la signature DKIM est active, "
        "être celui de DKIM_DOMAIN : sinon les messages risquent d'être classés comme indésirables."))
    reply_to = StringField(_l("Adresse de réponse (Reply-To)"), description=_l(
        "Où arrivent les réponses des lecteurs ; vide : à l'adresse de l'expéditeur."))
    list_id = StringField(_l("Identifiant de liste (List-Id)"), description=_l(
        "De la forme « Nom &lt;identifiant.domaine&gt; » ; les messageries s'en servent pour filtrer la lettre."))
    primary_colour = StringField(_l("Couleur principale"), description=_l(
        "En hexadécimal (#7a1f5c). Le texte blanc posé dessus doit rester lisible : contraste d'au moins 4,5:1."))
    footer_text = TextAreaField(_l("Texte du pied de lettre"), description=_l(
        "Adresse postale, mentions… en texte simple, sous chaque e-mail."))
    publisher = StringField(_l("Directeur ou directrice de la publication"), description=_l(
        "Nommé dans le pied de chaque lettre, comme le veut la loi pour une publication."))
    privacy_contact = StringField(_l("Contact pour les données personnelles"), description=_l(
        "Reçoit les demandes RGPD ; affiché sur la page de confidentialité et dans chaque e-mail."))
    issues_per_year = StringField(_l("Lettres par an"), description=_l(
        "De 1 à 12 : le calendrier éditorial en prévoit autant."))
    logo = FileField(_l("Logo"), description=_l(
        "JPEG, PNG ou WebP, 5 Mo au plus ; affiché sur la couleur principale en tête des e-mails."))


def _fill(form: SiteSettingsForm, site: site_settings.SiteSettings) -> None:
    for spec in site_settings.FIELDS:
        getattr(form, spec.key).data = site.shown(spec.key)


def _logo(raw: bytes, filename: str | None, network_name: str) -> tuple[bytes, str, int, int]:
    """The uploaded logo checked like a partner's image (content, size, pixels), then kept at most
    LOGO_MAX_WIDTH wide, as PNG (transparency kept) or JPEG."""
    processed = process_image(raw, filename, network_name or "logo")
    image: Image.Image = Image.open(io.BytesIO(processed.data))
    image.load()
    if image.width > LOGO_MAX_WIDTH:
        image = image.resize((LOGO_MAX_WIDTH, max(1, round(image.height * LOGO_MAX_WIDTH / image.width))),
                             Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image.convert("RGBA").save(out, "PNG", optimize=True)
        content_type = "image/png"
    else:
        image.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
        content_type = "image/jpeg"
    return out.getvalue(), content_type, image.width, image.height


def _journal(change: site_settings.Change) -> None:
    site_settings.log_change(change, current_user.email)
    label = "Logo" if change.key == site_settings.LOGO_KEY else str(site_settings.FIELD_BY_KEY[change.key].label)
    old, new = change.old or "(vide)", change.new or "(vide)"
    journal.record(session(), current_user._get_current_object(), "settings.changed",
                   f"Paramètre « {label} » modifié : {old} → {new}", target=f"setting:{change.key}",
                   details={"key": change.key, "old": change.old, "new": change.new})


@site_settings_bp.route("/redaction/parametres", methods=["GET", "POST"])
@admin_required
def edit():
    db = session()
    site = site_settings.current()
    form = SiteSettingsForm()
    if request.method == "GET":
        _fill(form, site)
    elif not form.validate_on_submit():  # only the CSRF token can fail here
        abort(400)
    elif request.form.get("reset"):
        key = request.form["reset"]
        if key != site_settings.LOGO_KEY and key not in site_settings.FIELD_BY_KEY:
            abort(400)
        change = site_settings.reset(db, key)
        if change:
            _journal(change)
            flash(_("« %(label)s » revient à la valeur par défaut.", label=_label(key)), "success")
        return redirect(url_for(".edit"))
    else:
        changes, refused = [], False
        for spec in site_settings.FIELDS:
            field = getattr(form, spec.key)
            try:
                change = site_settings.set_value(db, spec.key, field.data or "")
            except site_settings.SiteSettingError as exc:
                field.errors = [str(exc)]
                refused = True
                continue
            if change:
                changes.append(change)
        upload = request.files.get("logo")
        raw = upload.read() if upload and upload.filename else b""
        if upload and upload.filename:
            try:
                data, content_type, width, height = _logo(raw, upload.filename, form.network_name.data or "")
            except UploadError as exc:
                form.logo.errors = [str(exc)]
                refused = True
            else:
                changes.append(site_settings.set_logo(db, data, content_type, width, height))
        if refused:  # 422: the request's transaction is rolled back, nothing is kept
            return render_template("redaction/site_settings.html", form=form, **_page(site)), 422
        for change in changes:
            _journal(change)
        flash(_("Paramètres enregistrés.") if changes else _("Rien n'a changé."), "success")
        return redirect(url_for(".edit"))
    return render_template("redaction/site_settings.html", form=form, **_page(site))


def _page(site: site_settings.SiteSettings) -> dict:
    return {"site": site, "defaults": site_settings.defaults(), "fields": site_settings.FIELDS,
            "contrast_ratio_text": site_settings.french_ratio(site_settings.contrast_ratio(site.primary_colour))}


def _label(key: str) -> str:
    return _("Logo") if key == site_settings.LOGO_KEY else str(site_settings.FIELD_BY_KEY[key].label)


@site_settings_bp.route("/site/logo/<version>.<extension>")
def logo(version: str, extension: str):
    found = site_settings.logo_bytes(session(), version)
    if found is None:
        abort(404)
    data, content_type = found
    # The URL changes with the logo: it may be kept for ever.
    return Response(data, mimetype=content_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})
