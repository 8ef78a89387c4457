"""Embeddable widgets: small pages a partner's site shows in an <iframe> — the next events
(`/widgets/agenda`, optionally `?structure=<id>`: that structure's own events) and the latest
letter (`/widgets/lettre`) — and `/widgets/embed.js`, a script that inserts such a frame and sizes
it to its content. These pages, and only these, may be framed by any site (core.web.allow_framing).
They read what the API reads (parentalites.api.views), in the network's colour."""
from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import force_locale
from markupsafe import escape

from contributions.models import Structure
from core import site_settings, urls
from core.db import session
from core.site_settings import contrast_ratio
from core.web import allow_framing, small_int
from parentalites.api.views import latest_letter, upcoming_events

widgets_bp = Blueprint("widgets", __name__, url_prefix="/widgets")

STATIC = Path(__file__).resolve().parent.parent / "static" / "widgets"
DEFAULT_COLOUR = "#7a1f5c"  # --brand of static/site.css
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_EVENTS = 5
MAX_EVENTS = 20
CACHE_CONTROL = "public, max-age=300"
FRAME_HEIGHT = 420  # px: the snippet's first height, before embed.js sizes the frame to its content


def network_colour() -> str:
    """The network's primary colour (the site's settings), as #rrggbb: the one place the widgets
    read it from; anything else than #rrggbb gives the default."""
    colour = site_settings.current().primary_colour or DEFAULT_COLOUR
    return colour if _HEX_COLOUR.fullmatch(colour) else DEFAULT_COLOUR


def text_on(colour: str) -> str:
    """White or dark grey, whichever reads better on `colour` (WCAG contrast)."""
    dark = "#1f2933"
    return "#ffffff" if contrast_ratio(colour, "#ffffff") >= contrast_ratio(colour, dark) else dark


def _locale() -> str:
    """French, the language of the partners' sites, whatever the visitor's browser says; ?lang=en
    for English."""
    return "en" if request.args.get("lang") == "en" else "fr"


def _framed(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = CACHE_CONTROL
    return allow_framing(response)


def _theme() -> dict:
    colour = network_colour()
    return {"colour": colour, "colour_text": text_on(colour), "network_name": site_settings.current().network_name,
            "absolute": urls.absolute}


@widgets_bp.route("/agenda")
def agenda():
    structure = None
    if request.args.get("structure"):
        structure_id = small_int(request.args.get("structure"), 1)
        structure = session().get(Structure, structure_id) if structure_id else None
        if structure is None:
            abort(404)
    limit = small_int(request.args.get("limit"), 1, MAX_EVENTS) or DEFAULT_EVENTS
    with force_locale(_locale()):
        items = upcoming_events(structure=structure.id if structure else None)
        return _framed(render_template("widgets/agenda.html", events=items[:limit], more=len(items) > limit,
                                       structure=structure, **_theme()))


@widgets_bp.route("/lettre")
def letter():
    with force_locale(_locale()):
        return _framed(render_template("widgets/letter.html", letter=latest_letter(), **_theme()))


@widgets_bp.route("/embed.js")
def embed_script():
    response = Response((STATIC / "embed.js").read_text(encoding="utf-8"), mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@widgets_bp.app_template_global("widget_snippets")
def widget_snippets(structure_id: int | None = None) -> dict[str, str]:
    """The HTML a partner pastes into their site: the agenda (of one structure, if given) as a
    plain <iframe>, and the same through embed.js (which sizes the frame)."""
    frame_url = urls.absolute(url_for("widgets.agenda", structure=structure_id))
    script_url = urls.absolute(url_for("widgets.embed_script"))
    name = site_settings.current().network_name
    structure_attribute = f' data-structure="{structure_id}"' if structure_id else ""
    return {
        "iframe": (f'<iframe src="{frame_url}" title="Agenda — {escape(name)}" width="100%" '
                   f'height="{FRAME_HEIGHT}" style="border:0;max-width:100%" loading="lazy"></iframe>'),
        "script": (f'<div data-parentalites-widget="agenda"{structure_attribute}></div>\n'
                   f'<script src="{script_url}" async></script>'),
        "letter_iframe": (f'<iframe src="{urls.absolute(url_for("widgets.letter"))}" '
                          f'title="La dernière lettre — {escape(name)}" width="100%" height="260" '
                          'style="border:0;max-width:100%" loading="lazy"></iframe>'),
    }
