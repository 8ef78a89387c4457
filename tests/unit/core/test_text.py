"""The Markdown sanitizer (core/text.py) alone, without a page around it: hostile Markdown and each
payload of tests/support/hostile.py, rendered to HTML and to text. Through every page and the
letter: tests/integration/contributions/test_hostile_input.py."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from core.text import WEB_SCHEMES, markdown_to_text, render_markdown, safe_url
from tests.support.hostile import XSS_PAYLOADS, assert_clean, assert_clean_text


@pytest.mark.parametrize("payload", XSS_PAYLOADS, ids=range(len(XSS_PAYLOADS)))
def test_markdown_to_html_and_to_text_alone(payload):
    """The sanitizer itself, without a page around it (fast, and names the culprit)."""
    parsed = assert_clean(str(render_markdown(f"Texte\n\n{payload}\n\n[lien](https://ok.example)")), "markdown")
    assert not set(parsed.tags) - {"p", "a", "strong", "em", "code", "pre", "table", "thead", "tbody",
                                   "tr", "th", "td", "br", "ul", "ol", "li", "blockquote", "h2", "h3", "h4", "hr"}
    assert ("a", "href", "https://ok.example") in parsed.attributes
    assert_clean_text(markdown_to_text(payload), "markdown as text")


# What a partner may type into a Markdown field.
MARKDOWN_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[clic](javascript:alert(1))",
    "[clic](JaVaScRiPt:alert(1))",
    "[clic](  javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<p style=\"position:fixed;top:0\">x</p>",
    "![x](javascript:alert(1))",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<object data=\"javascript:alert(1)\"></object>",
    "<body onload=alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<<script>script>alert(1)<</script>/script>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<style>body{display:none}</style>",
    "<meta http-equiv=refresh content=0;url=https://evil.example>",
]


class _Markup(HTMLParser):
    """Collects the tags and attributes that a browser would actually see (escaped text is harmless)."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


@pytest.mark.parametrize("payload", MARKDOWN_PAYLOADS)
def test_hostile_markdown_never_reaches_a_page_or_the_letter(payload):
    from core.text import render_markdown
    parser = _Markup()
    parser.feed(str(render_markdown(f"Texte\n\n{payload}\n\n[lien](https://ok.example)")))
    assert not set(parser.tags) & {"script", "img", "svg", "iframe", "object", "style", "meta", "form", "math", "body"}
    for name, value in parser.attributes:
        assert not name.startswith("on") and name not in ("style", "src", "xlink:href", "action")
        if name == "href":
            assert value.split(":", 1)[0].strip().lower() in ("https", "http", "mailto"), value
    assert ("href", "https://ok.example") in parser.attributes


@pytest.mark.parametrize("url", [
    "https://ok.example/a b", "https://ok.example/\u200bx", "https://ok.example/\x00", 'https://ok.example/"x',
    "https://ok.example/<x>", "https://ok.example/`x`", "http://:80/", "https://[::1/", "mailto:",
])
def test_safe_url_refuses_what_would_break_an_href(url):
    """The one URL check (core.text.safe_url) used by contributions, feeds and structures: an
    address with whitespace, quotes, angle brackets or invisible characters, or with no host, is
    not a link."""
    assert safe_url(url) == ""


def test_safe_url_keeps_a_good_address_and_narrows_to_given_schemes():
    assert safe_url(" https://ok.example/l'atelier?q=1#f ") == "https://ok.example/l'atelier?q=1#f"
    assert safe_url("mailto:contact@ok.example") == "mailto:contact@ok.example"
    assert safe_url("mailto:contact@ok.example", WEB_SCHEMES) == ""
    assert safe_url("HTTP://OK.EXAMPLE/", WEB_SCHEMES) == "HTTP://OK.EXAMPLE/"


def test_strip_controls_removes_controls_and_noncharacters_but_keeps_text_and_line_breaks():
    from core.text import strip_controls
    text = "Un\tdeux\ntrois\r\n«é» 😀 \u00a0fin"
    assert strip_controls(text) == text
    dirty = "a\x00b\x07c\x1bd\x7fe\x85f\ufffeg\uffffh\ufdd0i\ufdefj\U0001fffek\U0010ffffl\ud800m"
    assert strip_controls(dirty) == "abcdefghijklm"
