"""The interface in two languages: French (the source strings, the default) and English (catalogue).

Self-contained on purpose: builds its own app on a SQLite file in tmp_path rather than relying on
shared fixtures. The catalogues themselves are checked in tests/unit/test_i18n.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.conftest import ROOT

TRANSLATIONS = ROOT / "translations"


def _read(po: Path):
    with po.open("rb") as f:
        return read_po(f)


def _compile_if_stale() -> None:
    """Same as `make translations`: the .mo files are build products, absent from a fresh checkout."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with mo.open("wb") as f:
                write_mo(f, _read(po))


@pytest.fixture
def client(tmp_path, monkeypatch):
    from core import db, settings

    monkeypatch.setenv("PARENTALITES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    settings.reset_settings()
    db.reset_engine()
    try:
        from parentalites.app import create_app
        from parentalites.migrate import upgrade

        _compile_if_stale()
        upgrade()
        app = create_app({"TESTING": True})
        yield app.test_client()
    finally:
        db.reset_engine()
        settings.reset_settings()


def _page(client, url: str, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_subscribe_page_in_english(client):
    html = _page(client, "/abonnement?lang=en")
    assert '<html lang="en">' in html
    assert "<h1>Subscribe to the Parentalités newsletter</h1>" in html
    assert ">Subscribe</button>" in html
    assert "E-mail address" in html
    assert "S&#39;abonner" not in html and "S'abonner" not in html


def test_subscribe_page_in_french_by_default(client):
    html = _page(client, "/abonnement")
    assert '<html lang="fr">' in html
    assert "S&#39;abonner" in html or "S'abonner" in html
    assert "Adresse e-mail" in html
    assert ">Subscribe<" not in html


def test_language_from_accept_language_and_cookie(client):
    assert "<h1>Subscribe to the Parentalités newsletter</h1>" in _page(
        client, "/abonnement", headers={"Accept-Language": "en-GB,en;q=0.9"})
    _page(client, "/lettres/?lang=en")  # sets the lang cookie
    assert "<h1>Subscribe to the Parentalités newsletter</h1>" in _page(client, "/abonnement")
    assert "<h1>Unsubscribe</h1>" in _page(client, "/desabonnement/")
    assert "<h1>Se désabonner</h1>" in _page(client, "/desabonnement/?lang=fr")


def test_letters_page_in_english(client):
    html = _page(client, "/lettres/?lang=en")
    assert "<h1>Parentalités newsletters</h1>" in html
    assert "No issue has been published yet." in html
    assert "Version française" in html


def test_login_page_in_english(client):
    html = _page(client, "/connexion?lang=en")
    assert "<h1>Log in</h1>" in html
    assert "Password" in html and "Mot de passe" not in html


def test_form_messages_in_english(client):
    html = _page(client, "/abonnement?lang=en")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post("/abonnement?lang=en", data={"csrf_token": token})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter your e-mail address." in html
    assert "Tick the box to agree to receive the newsletter." in html
    assert "The form contains errors" in html

    response = client.get("/redaction/?lang=en", follow_redirects=True)
    assert "Please log in to access this page." in response.get_data(as_text=True)
