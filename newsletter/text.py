"""Markdown from partners and editors, turned into HTML that is safe everywhere it is shown
(web, e-mail, feeds). Every HTML from outside goes through nh3."""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "h2", "h3", "h4",
    "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(html: str) -> str:
    """Keep only harmless structure: no script, no handler, no style, no javascript: URL."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer")


def render_markdown(source: str | None) -> Markup:
    if not source:
        return Markup("")
    return Markup(sanitize_html(_markdown.render(source)))
