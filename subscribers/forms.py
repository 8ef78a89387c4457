from __future__ import annotations

from flask_babel import gettext as _
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
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from core import departements
from core.forms import departement_choices
from subscribers import segments
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
    """Topics, role, commune and département: all optional. No topic ticked means every topic."""

    topics = MultiCheckboxField(_l("Thèmes qui vous intéressent (facultatif)"), choices=topic_choices(),
                                validators=[Optional()],
                                description=_l("Sans thème coché, vous recevez les invitations sur tous les thèmes."))
    role = SelectField(_l("Votre fonction (facultatif)"), choices=role_choices("—"), validators=[Optional()],
                       default="")
    commune = StringField(_l("Commune où vous travaillez (facultatif)"), validators=[Optional(), Length(max=120)],
                          render_kw={"autocomplete": "address-level2"})
    departement = SelectField(_l("Département où vous travaillez (facultatif)"), choices=departement_choices("—"),
                              validators=[Optional()], default="")

    def preferences(self) -> dict:
        return {"topics": list(self.topics.data or []), "role": self.role.data or None,
                "commune": self.commune.data or None, "departement": self.departement.data or None}


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


def _comma_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


class SegmentFormMixin:
    """Who receives a mail-out (subscribers/segments.py): topics, roles, communes and départements,
    each optional. The communes and départements declared by active subscribers are ticked boxes
    (`fill_choices`), others are typed in, separated by commas. Used by the letter's composer and
    by the invitations."""

    topics = MultiCheckboxField(
        _l("Thèmes"), choices=topic_choices(), validators=[Optional()],
        description=_l("Les abonnés qui n'ont choisi aucun thème reçoivent les envois de tous les thèmes."))
    roles = MultiCheckboxField(_l("Fonctions"), choices=role_choices(), validators=[Optional()],
                               description=_l("Par exemple : les référents CLAS."))
    communes = MultiCheckboxField(_l("Communes"), choices=[], validators=[Optional()],
                                  description=_l("Communes indiquées par les abonnés."))
    other_communes = StringField(_l("Autres communes (séparées par des virgules)"),
                                 validators=[Optional(), Length(max=1000)])
    departements = MultiCheckboxField(_l("Départements"), choices=[], validators=[Optional()],
                                      description=_l("Départements indiqués par les abonnés."))
    other_departements = StringField(_l("Autres départements (numéros ou noms, séparés par des virgules)"),
                                     validators=[Optional(), Length(max=1000)])

    def fill_choices(self, db) -> None:
        """The communes and départements to tick: those of the active subscribers."""
        self.communes.choices = [SelectChoice(c, c) for c in segments.known_communes(db)]
        self.departements.choices = [
            SelectChoice(code, departements.label(code)) for code in segments.known_departements(db)]

    def fill(self, segment: dict | None) -> None:
        """Show `segment` (already normalised): ticked where a box exists, typed in otherwise."""
        segment = segment or {}
        for key, other in (("communes", "other_communes"), ("departements", "other_departements")):
            known = {choice.value for choice in getattr(self, key).choices}
            getattr(self, key).data = [v for v in segment.get(key, []) if v in known]
            getattr(self, other).data = ", ".join(v for v in segment.get(key, []) if v not in known)
        self.topics.data = list(segment.get("topics", []))
        self.roles.data = list(segment.get("roles", []))

    def validate_other_departements(self, field) -> None:
        unknown = [item for item in _comma_list(field.data) if departements.normalize(item) is None]
        if unknown:
            raise ValidationError(_("Département inconnu : %(values)s. Indiquez son numéro (93) ou son nom "
                                    "(Seine-Saint-Denis).", values=", ".join(unknown)))

    def segment(self) -> dict | None:
        """The segment chosen, normalised (None: every active subscriber). Call after validation."""
        return segments.from_lists(
            self.topics.data or [], self.roles.data or [],
            [*(self.communes.data or []), *_comma_list(self.other_communes.data)],
            [*(self.departements.data or []), *_comma_list(self.other_departements.data)])
