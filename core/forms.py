"""Forms every back-office page uses."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice
from wtforms.validators import DataRequired, Email, ValidationError

from core import departements
from core.email_address import local_part_problem


def sendable_address(form, field) -> None:
    """WTForms validator: an address our relay can take (core.email_address)."""
    if problem := local_part_problem(field.data):
        raise ValidationError(problem)


class EmptyForm(FlaskForm):
    """A button that changes something: carries the CSRF token only."""


class TestSendForm(FlaskForm):
    """One address to send a test copy of a letter or an invitation to."""
    address = EmailField(_l("Adresse de test"),
                         validators=[DataRequired(), sendable_address, Email(message=_l("Adresse e-mail invalide."))])


def departement_choices(empty: str) -> list[SelectChoice]:
    """The official list for a select: "" (`empty`), then "Ain (01)"… "Mayotte (976)"."""
    return [SelectChoice("", empty), *(SelectChoice(code, label) for code, label in departements.choices())]


class KnownDepartement:
    """Validator of a text field: the text names a département (its code or its name, see
    core.departements.normalize); the field's data becomes the code. Put Optional() before it."""

    def __call__(self, form, field) -> None:
        code = departements.normalize(field.data)
        if code is None:
            raise ValidationError(_("Département inconnu : indiquez son numéro (93) ou son nom (Seine-Saint-Denis)."))
        field.data = code
