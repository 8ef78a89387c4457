from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional

from subscribers.services import CONSENT_WORDING


class SubscribeForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(message=_l("Indiquez votre adresse e-mail."))],
                       render_kw={"autocomplete": "email"})
    name = StringField(_l("Nom et prénom"), validators=[DataRequired(message=_l("Indiquez votre nom.")), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    structure = StringField(_l("Structure (facultatif)"), validators=[Optional(), Length(max=200)],
                            description=_l("Centre social, association, école, service…"),
                            render_kw={"autocomplete": "organization"})
    consent = BooleanField(CONSENT_WORDING, validators=[DataRequired(
        message=_l("Cochez la case pour accepter de recevoir la lettre."))])
