from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional

from subscribers.services import CONSENT_WORDING


class SubscribeForm(FlaskForm):
    email = EmailField("Adresse e-mail", validators=[DataRequired(message="Indiquez votre adresse e-mail.")],
                       render_kw={"autocomplete": "email"})
    name = StringField("Nom et prénom", validators=[DataRequired(message="Indiquez votre nom."), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    structure = StringField("Structure (facultatif)", validators=[Optional(), Length(max=200)],
                            description="Centre social, association, école, service…",
                            render_kw={"autocomplete": "organization"})
    consent = BooleanField(CONSENT_WORDING, validators=[DataRequired(
        message="Cochez la case pour accepter de recevoir la lettre.")])
