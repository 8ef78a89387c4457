"""The registration form of an event page, and the editor's event form."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from subscribers.consent import REGISTRATION_TEXT

# The text lives in subscribers/consent.py (one place, versioned); shown here in the page's language.
REGISTRATION_CONSENT = _l(REGISTRATION_TEXT)


def _party_size_within(form, field) -> None:
    if field.data is not None and not 1 <= field.data <= form.max_party_size:
        raise ValidationError(_("Indiquez un nombre de personnes entre 1 et %(max)s.", max=form.max_party_size))


class RegistrationForm(FlaskForm):
    """`max_party_size`: the event's cap (events.services.max_party_size), set with `for_event`."""

    max_party_size = 5

    @classmethod
    def for_event(cls, limit: int) -> RegistrationForm:
        form = cls()
        form.max_party_size = limit
        form.party_size.render_kw = {**(form.party_size.render_kw or {}), "max": limit}
        return form

    name = StringField(_l("Nom et prénom"),
                       validators=[DataRequired(message=_l("Indiquez votre nom.")), Length(max=200)],
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
        validators=[InputRequired(message=_l("Indiquez le nombre de personnes.")), _party_size_within],
        render_kw={"inputmode": "numeric", "min": 1})
    needs = TextAreaField(_l("Besoins d'accessibilité (facultatif)"), validators=[Optional(), Length(max=2000)],
                          description=_l("Interprète en LSF, boucle magnétique, accès en fauteuil, garde d'enfants…"),
                          render_kw={"rows": 3})
    consent = BooleanField(REGISTRATION_CONSENT, validators=[DataRequired(
        message=_l("Cochez la case pour accepter l'utilisation de vos coordonnées."))])


# --- The editor's form ----------------------------------------------------------------------------

class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes (the template renders it as a fieldset)."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _reminder_days(form, field) -> None:
    from events.messages import parse_reminder_days
    try:
        parse_reminder_days(field.data)
    except ValueError:
        raise ValidationError(_l("Indiquez des nombres de jours séparés par des virgules, par exemple 7,1 "
                                 "(entre 0 et 60 ; vide : pas de rappel).")) from None


def _after_start(form, field) -> None:
    if field.data and form.starts_at.data and field.data <= form.starts_at.data:
        raise ValidationError(_l("La fin doit venir après le début."))


def _after_opening(form, field) -> None:
    if field.data and form.registration_opens_at.data and field.data <= form.registration_opens_at.data:
        raise ValidationError(_l("La clôture doit venir après l'ouverture."))


DATETIME_HELP = _l("Heure de Paris.")


class EventForm(FlaskForm):
    type = SelectField(_l("Type d'événement"), choices=[])
    title = StringField(_l("Titre"), validators=[DataRequired(message=_l("Indiquez un titre.")), Length(max=300)])
    description_md = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)],
                                   description=_l("Markdown : **gras**, listes, liens."), render_kw={"rows": 8})
    starts_at = DateTimeLocalField(_l("Début"), format="%Y-%m-%dT%H:%M", description=DATETIME_HELP,
                                   validators=[InputRequired(message=_l("Indiquez la date et l'heure de début."))])
    ends_at = DateTimeLocalField(_l("Fin"), format="%Y-%m-%dT%H:%M", description=DATETIME_HELP,
                                 validators=[InputRequired(message=_l("Indiquez la date et l'heure de fin.")),
                                             _after_start])
    place = StringField(_l("Lieu (facultatif)"), validators=[Optional(), Length(max=300)],
                        description=_l("Nom du lieu : centre social, salle, école…"))
    address = StringField(_l("Adresse (facultatif)"), validators=[Optional(), Length(max=500)])
    access_info = TextAreaField(_l("Accès (facultatif)"), validators=[Optional(), Length(max=2000)],
                                description=_l("Transports, stationnement, comment trouver la salle."),
                                render_kw={"rows": 2})
    accessibility_info = TextAreaField(_l("Accessibilité (facultatif)"), validators=[Optional(), Length(max=2000)],
                                       description=_l("Accès de plain-pied, boucle magnétique, interprète LSF…"),
                                       render_kw={"rows": 2})
    online_url = URLField(_l("Lien de la réunion en ligne (facultatif)"),
                          validators=[Optional(), URL(message=_l("Indiquez une adresse web complète (https://…).")),
                                      Length(max=1000)])
    capacity = IntegerField(_l("Capacité en personnes (facultatif)"),
                            validators=[Optional(), NumberRange(min=1, max=100000,
                                                                message=_l("Indiquez au moins une place."))],
                            description=_l("Vide : sans limite. Au-delà, les inscriptions vont en liste d'attente."),
                            render_kw={"inputmode": "numeric", "min": 1})
    max_party_size = IntegerField(_l("Personnes par inscription (facultatif)"),
                                  validators=[Optional(), NumberRange(min=1, max=50, message=_l(
                                      "Indiquez un nombre entre 1 et 50."))],
                                  description=_l("Vide : la valeur par défaut du site (EVENT_MAX_PARTY_SIZE)."),
                                  render_kw={"inputmode": "numeric", "min": 1, "max": 50})
    registration_opens_at = DateTimeLocalField(_l("Ouverture des inscriptions (facultatif)"), format="%Y-%m-%dT%H:%M",
                                               validators=[Optional()], description=_l("Vide : dès maintenant."))
    registration_closes_at = DateTimeLocalField(_l("Clôture des inscriptions (facultatif)"), format="%Y-%m-%dT%H:%M",
                                                validators=[Optional(), _after_opening],
                                                description=_l("Vide : jusqu'au début de l'événement."))
    topics = MultiCheckboxField(_l("Thématiques"), choices=[], validators=[Optional()])
    roles = MultiCheckboxField(_l("Fonctions"), choices=[], validators=[Optional()])
    status = SelectField(_l("État"), choices=[])
    organiser = StringField(_l("Organisateur (facultatif)"), validators=[Optional(), Length(max=200)])
    contact_email = EmailField(_l("E-mail de contact (facultatif)"),
                               validators=[Optional(), Email(message=_l("Adresse e-mail invalide.")), Length(max=254)])
    reminder_days = StringField(
        _l("Rappels, en jours avant l'événement"), default="7,1",
        validators=[Optional(), Length(max=40), _reminder_days],
        description=_l("Par exemple 7,1 : un rappel une semaine avant et la veille. Vide : aucun rappel."))
    survey_url = URLField(_l("Questionnaire de satisfaction (facultatif)"),
                          validators=[Optional(), URL(message=_l("Indiquez une adresse web complète (https://…).")),
                                      Length(max=1000)],
                          description=_l("Envoyé avec le remerciement aux personnes pointées présentes."))


class CancelEventForm(FlaskForm):
    confirm = BooleanField(_l("Je confirme l'annulation : toutes les personnes inscrites seront prévenues."),
                           validators=[DataRequired(message=_l("Cochez la case pour confirmer l'annulation."))])
