"""Markdown from partners and editors, turned into HTML that is safe everywhere it is shown
(web, e-mail, feeds), and into plain text for the text part of e-mails. Every HTML from outside
goes through nh3."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import nh3
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.html_engine import Inscriptis
from inscriptis.html_properties import Display, WhiteSpace
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_element import HtmlElement
from inscriptis.model.tag import CustomHtmlTagHandlerMapping
from lxml.html import document_fromstring
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "h2", "h3", "h4",
    "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
WEB_SCHEMES = frozenset({"http", "https"})
# Never in a URL as written: control and invisible characters, which browsers drop ("java\tscript:"),
# and whitespace, quotes and angle brackets (RFC 3986 wants them percent-encoded), which would end
# an attribute, a Markdown link or the « (…) » of a text part.
_URL_FORBIDDEN = re.compile(r"[\s<>\"`\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\ufeff]")


def sanitize_html(html: str) -> str:
    """Keep only harmless structure: no script, no handler, no style, no javascript: URL."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer")


def render_markdown(source: str | None) -> Markup:
    if not source:
        return Markup("")
    return Markup(sanitize_html(_markdown.render(source)))


def safe_url(url: str | None, schemes: frozenset[str] = URL_SCHEMES) -> str:
    """The URL when it is an absolute link fit for an href, with one of `schemes` (http, https or
    mailto unless told), else "": javascript:, data:, vbscript:, relative or malformed URLs never
    are. The one check for every URL that comes from outside (partners, feeds, structures)."""
    if not url:
        return ""
    candidate = url.strip()
    if _URL_FORBIDDEN.search(candidate):
        return ""
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return ""
    if not (parts.path if scheme == "mailto" else host):
        return ""
    return candidate


# What no text from outside keeps: the C0 controls but tab and line breaks, DEL, the C1 controls,
# lone surrogates (no UTF-8 for them: PostgreSQL and encoders refuse them) and the Unicode
# non-characters (U+FDD0–U+FDEF and the last two code points of every plane), which XML parsers
# such as MJML's refuse.
_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
                       + "".join(chr(plane * 0x10000 + 0xFFFE) + chr(plane * 0x10000 + 0xFFFF) for plane in range(17))
                       + "]")


def strip_controls(value: str) -> str:
    """`value` without control characters (tab and line breaks kept) nor Unicode non-characters."""
    return _UNWANTED.sub("", value)


def strip_controls_in_output(value):
    """Jinja `finalize` for e-mails: every value written into a template loses what `strip_controls`
    removes, whatever the database holds (rows written before the cleaning, feeds, imports)."""
    if isinstance(value, Markup):
        return Markup(strip_controls(str(value)))
    if isinstance(value, str):
        return strip_controls(value)
    return value


# A "<" that an HTML reader could take for the start of a tag, a comment or a declaration.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def plain_text(value: str | None) -> str:
    """Text for a text/plain part: unchanged to the eye, but no "<tag" survives, should a mail
    client ever show the part as HTML (a zero-width space follows the "<")."""
    if not value:
        return ""
    return _TAG_START.sub("<\u200b", str(value))


# The sanitized tags laid out as a text part reads: paragraphs apart, « - » and « 1. » lists indented
# by level, « > » before a quote, code kept as written, table cells apart with « | ».
_TEXT_CSS = {
    **CSS_PROFILES["strict"],
    "ul": HtmlElement(display=Display.block, padding_inline=2),
    "ol": HtmlElement(display=Display.block, padding_inline=3),
    "blockquote": HtmlElement(display=Display.block, margin_before=1, margin_after=1, padding_inline=2,
                              list_bullet="> "),
    "pre": HtmlElement(display=Display.block, margin_before=1, margin_after=1, whitespace=WhiteSpace.pre),
    "code": HtmlElement(whitespace=None),  # inherits: verbatim inside <pre>, flowing elsewhere
    "table": HtmlElement(display=Display.block, margin_before=1, margin_after=1),
    "hr": HtmlElement(display=Display.block, margin_before=1, margin_after=1),
}


def _list_start(state, bullet) -> None:
    if not state.li_counter:
        state.tags[-1].margin_before = 1  # a list apart from what precedes it; a nested one is not
    state.li_counter.append(bullet)


def _list_end(state) -> None:
    state.li_counter.pop()


_LIST_HANDLERS = CustomHtmlTagHandlerMapping(
    # inscriptis varies the bullet by level (* + o): one « - » is enough
    {"ul": lambda state, attrs: _list_start(state, "- "), "ol": lambda state, attrs: _list_start(state, 1)},
    {"ul": _list_end, "ol": _list_end})
_TEXT_CONFIG = ParserConfig(css=_TEXT_CSS, table_cell_separator=" | ",
                            custom_html_tag_handler_mapping=_LIST_HANDLERS)
# For the text part only: a line break the author typed stays one (the HTML joins the lines).
_markdown_for_text = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                               "breaks": True}).enable("table")


def markdown_to_text(source: str | None) -> str:
    """Markdown as plain text for e-mails (inscriptis lays out the sanitized HTML): links written
    out as « texte (https://…) », no HTML and no dangerous URL left."""
    if not source:
        return ""
    html = sanitize_html(_markdown_for_text.render(source))
    if not html.strip():
        return ""
    tree = document_fromstring(html)
    for rule in tree.iter("hr"):
        rule.text = "----"
    for link in tree.iter("a"):
        href = safe_url(link.get("href"))
        if href and href.removeprefix("mailto:") != link.text_content().strip():
            link.tail = f" ({href}){link.tail or ''}"
    text = Inscriptis(tree, _TEXT_CONFIG).get_text()
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    return plain_text(text)
