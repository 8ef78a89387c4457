"""Forms every back-office page uses."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Email, ValidationError

from core.addresses import local_part_problem


def sendable_address(form, field) -> None:
    """WTForms validator: an address our relay can take (core.addresses)."""
    if problem := local_part_problem(field.data):
        raise ValidationError(problem)


class EmptyForm(FlaskForm):
    """A button that changes something: carries the CSRF token only."""


class TestSendForm(FlaskForm):
    """One address to send a test copy of a letter or an invitation to."""
    address = EmailField(_l("Adresse de test"),
                         validators=[DataRequired(), sendable_address, Email(message=_l("Adresse e-mail invalide."))])
