"""The compiled letter (mailing/engine.py): personal slots filled, escaped in HTML."""
from __future__ import annotations

from mailing import engine


def test_personalisation_escapes_names_in_html():
    letter = engine.CompiledLetter("S", "<p>%%greeting%%</p><a href=\"%%unsubscribe_url%%\">x</a>", "%%greeting%%")
    html, text = letter.render({"greeting": "Bonjour <b>Zoé & Léa</b>,", "unsubscribe_url": "https://x.test/d/a\"b"})
    assert html == '<p>Bonjour &lt;b&gt;Zoé &amp; Léa&lt;/b&gt;,</p><a href="https://x.test/d/a&quot;b">x</a>'
    assert text == "Bonjour <b>Zoé & Léa</b>,"


# --- List-Unsubscribe and https (issue 13, item 29) -----------------------------------------------

def _with_base_url(monkeypatch, base_url: str):
    from core.settings import get_settings, reset_settings
    monkeypatch.setenv("BASE_URL", base_url)
    reset_settings()
    return get_settings()


def test_an_https_site_refuses_an_http_unsubscribe_link(monkeypatch):
    from core.settings import reset_settings
    from mailing import engine
    try:
        _with_base_url(monkeypatch, "https://lettre.example.org")
        ok = engine.letter_headers("https://lettre.example.org/desabonnement/abc")
        assert ok["List-Unsubscribe"] == "<https://lettre.example.org/desabonnement/abc>"
        assert ok["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        refused = engine.letter_headers("http://lettre.example.org/desabonnement/abc")
        assert "List-Unsubscribe" not in refused and "List-Unsubscribe-Post" not in refused
        assert refused["List-Id"]  # the rest stays
    finally:
        monkeypatch.undo()
        reset_settings()


def test_a_site_without_https_is_warned_about_at_start(monkeypatch):
    from core.settings import reset_settings
    from mailing import engine
    try:
        settings = _with_base_url(monkeypatch, "http://127.0.0.1:8000")
        [warning] = engine.settings_warnings(settings)
        assert "BASE_URL" in warning and "https" in warning and "List-Unsubscribe" in warning
        assert engine.letter_headers("http://127.0.0.1:8000/desabonnement/abc")["List-Unsubscribe"]
        assert engine.settings_warnings(_with_base_url(monkeypatch, "https://lettre.example.org")) == []
    finally:
        monkeypatch.undo()
        reset_settings()
