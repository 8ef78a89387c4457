"""Site settings (core/site_settings.py): the WCAG contrast check, each field's checks, and the
environment's values when no database is there."""
from __future__ import annotations

import pytest

from core import site_settings
from core.site_settings import SiteSettingError, check_primary_colour, contrast_ratio


@pytest.mark.parametrize(("colour", "against", "expected"), [
    ("#777777", "#ffffff", 4.48),   # the classic "just below AA" grey
    ("#767676", "#ffffff", 4.54),   # the lightest grey that passes AA on white
    ("#000000", "#ffffff", 21.0),
    ("#ffffff", "#ffffff", 1.0),
    ("#0000ff", "#ffffff", 8.59),
    ("#ff0000", "#ffffff", 4.0),
    ("#7a1f5c", "#ffffff", 9.64),   # the default primary colour
])
def test_contrast_ratio_gives_the_wcag_values(colour, against, expected):
    assert round(contrast_ratio(colour, against), 2) == pytest.approx(expected, abs=0.01)
    assert contrast_ratio(against, colour) == contrast_ratio(colour, against)  # order does not matter


def test_a_colour_too_light_for_white_text_is_refused_with_its_ratio_in_french():
    with pytest.raises(SiteSettingError, match=r"4,48:1") as refused:
        check_primary_colour("#777777")
    assert "4,5:1" in str(refused.value) and "WCAG" in str(refused.value)
    with pytest.raises(SiteSettingError, match=r"1,00:1"):
        check_primary_colour("#fff")
    assert check_primary_colour("#767676") == "#767676"
    assert check_primary_colour("7A1F5C") == "#7a1f5c"
    assert check_primary_colour("#03f") == "#0033ff"


@pytest.mark.parametrize("bad", ["rouge", "#12345", "#gggggg", "", "url(javascript:alert(1))", "#7a1f5c;x"])
def test_a_colour_that_is_not_hexadecimal_is_refused(bad):
    with pytest.raises(SiteSettingError, match="hexadécimal"):
        check_primary_colour(bad)


@pytest.mark.parametrize(("key", "bad", "says"), [
    ("sender_address", "pas une adresse", "n'est pas une adresse"),
    ("sender_address", "lettre@réseau", "n'est pas une adresse"),
    ("reply_to", "a@b", "n'est pas une adresse"),
    ("list_id", "Lettre sans chevrons", "RFC 2919"),
    ("list_id", "Lettre <sans-point>", "RFC 2919"),
    ("issues_per_year", "13", "entre 1 et 12"),
    ("issues_per_year", "trois", "entre 1 et 12"),
    ("network_name", "   ", "ne peut pas être vide"),
    ("publisher", "x" * 201, "200 caractères"),
])
def test_each_field_refuses_a_bad_value_in_french(key, bad, says):
    with pytest.raises(SiteSettingError, match=says):
        site_settings.FIELD_BY_KEY[key].parse(bad)


def test_fields_keep_a_good_value_tidy():
    parse = {f.key: f.parse for f in site_settings.FIELDS}
    assert parse["network_name"]("  Réaap   du Val  ") == "Réaap du Val"
    assert parse["reply_to"]("") == ""
    assert parse["list_id"]("Lettre <lettre.reseau.fr>") == "Lettre <lettre.reseau.fr>"
    assert parse["issues_per_year"](" 04 ") == "4"
    assert parse["footer_text"]("  Réaap 93\n\n\n\n12 rue X  ") == "Réaap 93\n\n12 rue X"


def test_without_a_database_the_environment_gives_every_value():
    site = site_settings.current()  # no engine in the unit tier: no connection attempted
    assert site.sender_address == "lettre@parentalites.test"  # MAIL_FROM of the tests' environment
    assert site.sender_name == "Lettre Parentalités"
    assert site.mail_from == "Lettre Parentalités <lettre@parentalites.test>"
    assert site.primary_colour == site_settings.DEFAULT_PRIMARY_COLOUR and site.logo is None
    assert site.reply_to == "" and site.overridden == frozenset()


def test_a_sender_name_with_a_comma_is_quoted_in_the_from_header():
    from email.utils import parseaddr
    site = site_settings._build({"sender_name": "Réaap, la lettre", "sender_address": "l@reseau.fr"})
    assert site.mail_from == '"Réaap, la lettre" <l@reseau.fr>'
    assert parseaddr(site.mail_from) == ("Réaap, la lettre", "l@reseau.fr")
