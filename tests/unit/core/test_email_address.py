"""Issue 13 #19: why an address is refused, in French (English with the English catalogue), never
email_validator's English."""
from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from flask import Flask
from flask_babel import Babel, force_locale

from core.email_address import email_error_message

CASES = {
    "pas-une-adresse": "il manque le signe @",
    "@exemple.fr": "il manque la partie avant le signe @",
    "marie@": "il manque le nom de domaine",
    "marie@exemple": "doit contenir un point",
    "marie..dupont@exemple.fr": "deux points à la suite",
    ".marie@exemple.fr": "ne peut pas commencer ni finir",
    "marie@exemple..fr": "deux points à la suite",
    "marie@-exemple.fr": "ne peut pas commencer ni finir",
    "marie dupont@exemple.fr": "caractères non autorisés",
    "marie@exemple.fr extra": "nom de domaine après le signe @ n'est pas valide",
    "Marie <marie@exemple.fr>": "sans nom ni chevrons",
    "marie@exemple.invalid": "réservé",
    "m" * 250 + "@exemple.fr": "trop longue",
    "marie@exem ple.fr": "nom de domaine après le signe @",
}


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(__import__("pathlib").Path(__file__).resolve()
                                                       .parents[3] / "translations")
    Babel(app, default_locale="fr")
    with app.test_request_context():
        yield app


def _error(raw: str) -> EmailNotValidError:
    with pytest.raises(EmailNotValidError) as info:
        validate_email(raw, check_deliverability=False)
    return info.value


@pytest.mark.parametrize("raw", list(CASES))
def test_every_refusal_is_explained_in_french(app, raw):
    message = email_error_message(_error(raw))
    assert message.startswith("Adresse e-mail invalide : "), message
    assert CASES[raw] in message, message
    for english in ("@-sign", "The ", "email address", "An "):
        assert english not in message, message


def test_english_interface_gets_english(app):
    with force_locale("en"):
        message = email_error_message(_error("marie@exemple"))
    assert message.startswith("Invalid e-mail address: ") and "period" in message, message
    assert "Adresse" not in message
