"""The admin's webhook form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from parentalites.webhooks.events import EVENTS


class EventsField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WebhookForm(FlaskForm):
    url = StringField(_l("Adresse (URL) qui reçoit les événements"),
                      validators=[DataRequired(), Length(max=2000)],
                      description=_l("https://… : un site public ; les réseaux privés et internes sont refusés."))
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)],
                              description=_l("Pour vous : à quoi sert ce webhook, qui le reçoit."))
    events = EventsField(_l("Événements envoyés"), choices=[SelectChoice(key, label) for key, label in EVENTS.items()],
                         validators=[DataRequired(message=_l("Choisissez au moins un événement."))])
    active = BooleanField(_l("Actif"), default=True)
