"""The registration form of an event page."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from events.services import MAX_PARTY_SIZE

REGISTRATION_CONSENT = _l("J'accepte que mes coordonnées servent à l'organisation de cet événement "
                          "(confirmation, rappels, liste des présents). Elles ne sont pas cédées.")


class RegistrationForm(FlaskForm):
    name = StringField(_l("Nom et prénom"), validators=[DataRequired(message=_l("Indiquez votre nom.")), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(message=_l("Indiquez votre adresse e-mail."))],
                       description=_l("Vous recevrez la confirmation et le lien pour annuler à cette adresse."),
                       render_kw={"autocomplete": "email"})
    structure = StringField(_l("Structure (facultatif)"), validators=[Optional(), Length(max=200)],
                            description=_l("Centre social, association, école, service…"),
                            render_kw={"autocomplete": "organization"})
    role = StringField(_l("Fonction (facultatif)"), validators=[Optional(), Length(max=200)],
                       description=_l("Parent, référent CLAS, animatrice, bénévole…"),
                       render_kw={"autocomplete": "organization-title"})
    party_size = IntegerField(
        _l("Nombre de personnes, vous compris"), default=1,
        validators=[InputRequired(message=_l("Indiquez le nombre de personnes.")),
                    NumberRange(min=1, max=MAX_PARTY_SIZE,
                                message=_l("Indiquez un nombre de personnes entre 1 et %(max)s.", max=MAX_PARTY_SIZE))],
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_PARTY_SIZE})
    needs = TextAreaField(_l("Besoins d'accessibilité (facultatif)"), validators=[Optional(), Length(max=2000)],
                          description=_l("Interprète en LSF, boucle magnétique, accès en fauteuil, garde d'enfants…"),
                          render_kw={"rows": 3})
    consent = BooleanField(REGISTRATION_CONSENT, validators=[DataRequired(
        message=_l("Cochez la case pour accepter l'utilisation de vos coordonnées."))])
