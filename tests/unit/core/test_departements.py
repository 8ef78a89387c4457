"""The official list of départements and what `normalize` accepts (core/departements.py)."""
from __future__ import annotations

import pytest

from core import departements
from core.departements import DEPARTEMENTS, normalize


def test_the_list_has_the_101_departements_with_unique_names():
    assert len(DEPARTEMENTS) == 101
    assert len(set(DEPARTEMENTS.values())) == 101
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= set(DEPARTEMENTS)
    assert "20" not in DEPARTEMENTS and "975" not in DEPARTEMENTS
    assert [c for c in DEPARTEMENTS if c.isdigit() and len(c) == 2] == [
        f"{n:02d}" for n in range(1, 96) if n != 20]
    # Two names folded the same way would make normalize ambiguous.
    assert len({departements._fold(n) for n in DEPARTEMENTS.values()}) == 101


@pytest.mark.parametrize("value, code", [
    ("93", "93"), ("093", "93"), (" 93 ", "93"), ("1", "01"), ("01", "01"), ("2A", "2A"), ("2a", "2A"),
    ("02B", "2B"), ("971", "971"), ("976", "976"),
    ("Seine-Saint-Denis", "93"), ("seine saint denis", "93"), ("SEINE-SAINT-DENIS", "93"), ("Seine Saint-Denis", "93"),
    ("seinesaintdenis", "93"), ("Côtes-d'Armor", "22"), ("cotes d’armor", "22"), ("Corrèze", "19"),
    ("correze", "19"), ("La Réunion", "974"), ("reunion", "974"), ("Territoire de Belfort", "90"),
    ("Val-d'Oise", "95"), ("val d oise", "95"), ("Corse-du-Sud", "2A"), ("haute corse", "2B"),
    ("Seine-Saint-Denis (93)", "93"), ("93 - Seine-Saint-Denis", "93"), ("93 Seine-Saint-Denis", "93"),
    ("Seine-Saint-Denis - 93", "93"), ("Corse-du-Sud (2A)", "2A"),
])
def test_normalize_accepts_codes_and_names(value, code):
    assert normalize(value) == code


@pytest.mark.parametrize("value", [
    None, "", "   ", "20", "975", "00", "0", "100", "2C", "Île-de-France", "Seine", "Corse",
    "Seine-Saint-Denis (92)", "92 - Seine-Saint-Denis", "Paris 75", "x" * 200, 93.5,
])
def test_normalize_refuses_what_names_no_departement(value):
    assert normalize(value) is None


def test_normalize_accepts_an_int_code():
    assert normalize(93) == "93"


def test_name_and_label():
    assert departements.name("93") == "Seine-Saint-Denis"
    assert departements.name("2A") == "Corse-du-Sud"
    assert departements.name("20") is None and departements.name(None) is None
    assert departements.label("seine saint denis") == "Seine-Saint-Denis (93)"
    assert departements.label("Île-de-France") == "Île-de-France"
    assert departements.label(None) == ""
    assert departements.choices()[0] == ("01", "Ain (01)")
    assert len(departements.choices()) == 101
