"""The sandbox of the editors' e-mail texts (mailing/editable.py), without a server."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mailing import editable

EMAIL_DIR = Path(__file__).resolve().parents[3] / "templates" / "email"


@pytest.mark.parametrize("name", sorted(editable.EDITABLE))
def test_every_default_text_passes_the_rules_it_is_offered_under(name):
    """The page offers the default files as the text to edit: they must pass as they are."""
    folder = EMAIL_DIR / name
    rendered = editable.sample_check(name, (folder / "subject.txt").read_text(), (folder / "body.txt").read_text())
    assert rendered.subject and rendered.text.strip()
    assert "None" not in rendered.subject


@pytest.mark.parametrize(("source", "message"), [
    ("{% import os %}", "« import » n'est pas permis"),
    ("{% from 'x' import y %}", "import » n'est pas permis"),
    ("{% include 'login_link/body.txt' %}", "« include » n'est pas permis"),
    ("{% extends 'x' %}", "« extends » n'est pas permis"),
    ("{% set a = 'x' %}{{ a }}", "« set » n'est pas permis"),
    ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "récursives"),
    ("{{ ''.__class__.__mro__ }}", "n'est pas accessible"),
    ("{{ user.name.format }}", "n'est pas accessible"),
    ("{{ lipsum(10) }}", "variable inconnue « lipsum »"),
    ("{{ namespace() }}", "variable inconnue « namespace »"),
    ("{{ user.name|center(1000000000) }}", "filtre inconnu « center »"),
    ("{{ range(5)|batch(2)|list }}", "filtre inconnu « batch »"),
    ("{{ 2 ** 100000 }}", "Puissance refusée"),
    ("{{ [1] * 100000 }}", "Multiplication refusée"),
    ("{% for i in range(10**9) %}{% endfor %}", r"range\(\) est limité"),
    ("{{ '{:>999999999}'.format(1) }}", "n'est pas accessible"),
    ("{{ range(1000)|join(range(1000)|join('x' * 9999)) }}", "join : le texte produit dépasserait"),
    ("{{ ((2 ** 64) ** 64) ** 64 }}", "Puissance refusée"),
])
def test_escapes_and_bombs_are_refused(source, message):
    with pytest.raises(editable.TemplateRefused, match=message):
        editable.sample_check("login_link", "Objet", source)


def test_only_the_declared_fields_reach_the_template():
    user = SimpleNamespace(name="Amina", email="amina@exemple.org", password_hash="$argon2$secret",
                           structure=SimpleNamespace(name="Les Tilleuls"))
    plain = editable.plain_context(editable.EDITABLE["login_link"],
                                   {"user": user, "url": "https://x.test/l", "minutes": 15, "secret": "no",
                                    "settings": SimpleNamespace(base_url="https://x.test", privacy_contact="d@x.test",
                                                                secret_key="s3cr3t")})
    assert plain == {"settings": {"base_url": "https://x.test", "privacy_contact": "d@x.test"},
                     "user": {"name": "Amina", "email": "amina@exemple.org"}, "url": "https://x.test/l",
                     "minutes": 15}
    with pytest.raises(editable.TemplateRefused, match="variable inconnue « secret »"):
        editable.render_text(editable.EDITABLE["login_link"], "x", "{{ secret }}", plain)
    with pytest.raises(editable.TemplateRefused, match="« password_hash » n'existe pas"):
        editable.render_text(editable.EDITABLE["login_link"], "x", "{{ user.password_hash }}", plain)


def test_a_missing_object_and_nested_fields_are_copied_as_none():
    plain = editable.plain_context(editable.EDITABLE["appel_a_contributions"],
                                   {"partner": SimpleNamespace(name="Amina", structure=None), "planned": None})
    assert plain["partner"] == {"name": "Amina", "structure": None} and plain["planned"] is None


def test_the_html_part_escapes_the_text_and_links_its_urls():
    html = str(editable.text_to_html("Bonjour <b>toi</b> & co,\n\nVoir https://exemple.org/a?b=1&c=2.\nFin"))
    assert "&lt;b&gt;toi&lt;/b&gt; &amp; co," in html
    assert '<a href="https://exemple.org/a?b=1&amp;c=2">https://exemple.org/a?b=1&amp;c=2</a>.<br>Fin' in html
    assert html.count("<mj-text>") == 2
