"""The compiled letter (mailing/engine.py): personal slots filled, escaped in HTML."""
from __future__ import annotations

from mailing import engine


def test_personalisation_escapes_names_in_html():
    letter = engine.CompiledLetter("S", "<p>%%greeting%%</p><a href=\"%%unsubscribe_url%%\">x</a>", "%%greeting%%")
    html, text = letter.render({"greeting": "Bonjour <b>Zoé & Léa</b>,", "unsubscribe_url": "https://x.test/d/a\"b"})
    assert html == '<p>Bonjour &lt;b&gt;Zoé &amp; Léa&lt;/b&gt;,</p><a href="https://x.test/d/a&quot;b">x</a>'
    assert text == "Bonjour <b>Zoé & Léa</b>,"
