"""E-mail templates (mailing/templates.py): MJML compilation errors say where."""
from __future__ import annotations

import pytest

from mailing.templates import MJMLError, compile_mjml


def test_invalid_mjml_gives_a_clear_error():
    with pytest.raises(MJMLError, match="MJML invalide dans essai.mjml"):
        compile_mjml("<mjml><mj-body><mj-section>", "essai.mjml")
