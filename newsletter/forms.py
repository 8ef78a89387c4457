"""Back-office forms for composing and sending an issue."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from contributions.rubriques import RUBRIQUES
from core.formatting import PARIS
from subscribers.forms import SegmentFormMixin

RUBRIQUE_CHOICES = [SelectChoice(slug, label) for slug, label in RUBRIQUES]


class IssueForm(FlaskForm):
    numero = IntegerField(_l("Numéro"), validators=[DataRequired(), NumberRange(min=1)])
    title = StringField(_l("Titre"), validators=[DataRequired(), Length(max=300)])
    issue_date = DateField(_l("Date de parution"), validators=[DataRequired()])
    edito_md = TextAreaField(
        _l("Édito"), validators=[Optional()],
        description=_l("En Markdown : **gras**, *italique*, [lien](https://…), listes avec « - »."))


class AddItemForm(FlaskForm):
    contribution_id = IntegerField(validators=[DataRequired()])
    rubrique = SelectField(_l("Rubrique"), choices=RUBRIQUE_CHOICES, validators=[DataRequired()],
                           validate_choice=False)  # the rubriques are the admin's: newsletter.issues checks


class RubriqueForm(FlaskForm):
    rubrique = SelectField(_l("Rubrique"), choices=RUBRIQUE_CHOICES, validators=[DataRequired()])


class ScheduleForm(FlaskForm):
    when = DateTimeLocalField(_l("Date et heure d'envoi (heure de Paris)"), format="%Y-%m-%dT%H:%M",
                              validators=[DataRequired()])

    def when_utc(self) -> datetime:
        return self.when.data.replace(tzinfo=PARIS)


class LetterSegmentForm(SegmentFormMixin, FlaskForm):
    """Who receives the letter: everyone (nothing ticked) or a segment, e.g. a CLAS edition."""
