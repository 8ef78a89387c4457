from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from subscribers.models import ROLES, TOPICS
from subscribers.services import CONSENT_WORDING


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (templates render it in a fieldset, see subscribers/_preferences.html)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def topic_choices() -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in TOPICS.items()]


def role_choices(empty: str | None = None) -> list[SelectChoice]:
    return ([SelectChoice("", empty)] if empty is not None else []) + [
        SelectChoice(key, label) for key, label in ROLES.items()]


class PreferencesMixin:
    """Topics, role and commune: all optional. No topic ticked means every topic."""

    topics = MultiCheckboxField(_l("Thèmes qui vous intéressent (facultatif)"), choices=topic_choices(),
                                validators=[Optional()],
                                description=_l("Sans thème coché, vous recevez les invitations sur tous les thèmes."))
    role = SelectField(_l("Votre fonction (facultatif)"), choices=role_choices("—"), validators=[Optional()],
                       default="")
    commune = StringField(_l("Commune où vous travaillez (facultatif)"), validators=[Optional(), Length(max=120)],
                          render_kw={"autocomplete": "address-level2"})

    def preferences(self) -> dict:
        return {"topics": list(self.topics.data or []), "role": self.role.data or None,
                "commune": self.commune.data or None}


class SubscribeForm(PreferencesMixin, FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(message=_l("Indiquez votre adresse e-mail."))],
                       render_kw={"autocomplete": "email"})
    name = StringField(_l("Nom et prénom"),
                       validators=[DataRequired(message=_l("Indiquez votre nom.")), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    structure = StringField(_l("Structure (facultatif)"), validators=[Optional(), Length(max=200)],
                            description=_l("Centre social, association, école, service…"),
                            render_kw={"autocomplete": "organization"})
    consent = BooleanField(CONSENT_WORDING, validators=[DataRequired(
        message=_l("Cochez la case pour accepter de recevoir la lettre."))])


class PreferencesForm(PreferencesMixin, FlaskForm):
    pass
