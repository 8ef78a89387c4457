"""Markdown from partners and editors, turned into HTML that is safe everywhere it is shown
(web, e-mail, feeds), and into plain text for the text part of e-mails. Every HTML from outside
goes through nh3."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3
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


# A "<" that an HTML reader could take for the start of a tag, a comment or a declaration.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def plain_text(value: str | None) -> str:
    """Text for a text/plain part: unchanged to the eye, but no "<tag" survives, should a mail
    client ever show the part as HTML (a zero-width space follows the "<")."""
    if not value:
        return ""
    return _TAG_START.sub("<\u200b", str(value))


class _TextWriter(HTMLParser):
    """Sanitized HTML (ALLOWED_TAGS only) back to readable text: paragraphs, lists, links as
    « texte (https://…) »."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list] = []  # [kind, counter]
        self.href: list[str | None] = []
        self.link_text: list[str] = []
        self.quote = 0
        self.pre = False

    def _newline(self, count: int = 1):
        text = "".join(self.out).rstrip(" ")
        existing = len(text) - len(text.rstrip("\n"))
        if text and existing < count:
            self.out.append("\n" * (count - existing))

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "h2", "h3", "h4", "pre", "table", "blockquote", "hr"):
            self._newline(2)
            self.pre = self.pre or tag == "pre"
            if tag == "blockquote":
                self.quote += 1
            if tag == "hr":
                self.out.append("----\n\n")
        elif tag in ("ul", "ol"):
            self._newline(1 if self.lists else 2)
            self.lists.append([tag, 0])
        elif tag == "li":
            self._newline(1)
            indent = "  " * (len(self.lists) - 1)
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] += 1
                self.out.append(f"{indent}{self.lists[-1][1]}. ")
            else:
                self.out.append(f"{indent}- ")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "tr":
            self._newline(1)
        elif tag in ("td", "th"):
            if not "".join(self.out[-1:]).endswith("\n"):
                self.out.append(" | ")
        elif tag == "a":
            self.href.append(safe_url(dict(attrs).get("href")) or None)
            self.link_text.append("")

    def handle_endtag(self, tag):
        if tag in ("p", "h2", "h3", "h4", "pre", "table"):
            self._newline(2)
            self.pre = self.pre and tag != "pre"
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._newline(2)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._newline(2 if not self.lists else 1)
        elif tag == "a" and self.href:
            href, text = self.href.pop(), self.link_text.pop().strip()
            if href and href != text and href.removeprefix("mailto:") != text:
                self.out.append(f" ({href})")

    def handle_data(self, data):
        if not self.pre and not data.strip() and "\n" in data:
            return  # the newlines between block tags
        if self.quote:
            data = data.replace("\n", "\n> ")
            if not self.out or self.out[-1].endswith("\n"):
                data = "> " + data.lstrip()
        if self.link_text:
            self.link_text[-1] += data
        self.out.append(data)


def markdown_to_text(source: str | None) -> str:
    """Markdown as plain text for e-mails: what the sanitized HTML says, links written out, no
    HTML and no dangerous URL left."""
    if not source:
        return ""
    writer = _TextWriter()
    writer.feed(sanitize_html(_markdown.render(source)))
    writer.close()
    text = "".join(writer.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return plain_text(text)
