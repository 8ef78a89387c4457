"""The public directory of actions: /actions/ (search and facets), /actions/<id>/ (one fiche),
/actions/feed.atom (the new fiches). Only accepted or published fiches are shown."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from contributions import directory
from contributions.importer import INITIATIVE_DETAIL_PREFIX
from core import departements, site_settings, urls
from core.db import session
from core.http_cache import cacheable
from core.text import render_markdown
from core.web import small_int

directory_bp = Blueprint("directory", __name__, url_prefix="/actions")

# The fiche's fields in the order of the national database, with their French headings.
TEXT_SECTIONS = [
    ("summary", _l("Résumé")),
    ("description", _l("Description de l'expérience, ses objectifs, ses acteurs et ses différentes phases")),
    ("partners_description", _l("Comment l'action a été menée avec les partenaires")),
    ("financial_resources", _l("Ressources financières mobilisées")),
    ("people_mobilised", _l("Personnes mobilisées")),
    ("result_territory", _l("Résultat sur le territoire")),
    ("result_structure", _l("Résultat pour le centre social")),
    ("result_inhabitants", _l("Résultat pour les habitants")),
    ("limits", _l("Suite de l'action : limites")),
    ("perspectives", _l("Suite de l'action : perspectives")),
    ("contact", _l("Contact")),
]
FACET_TITLES = {
    "departement": _l("Département"), "dimension": _l("Dimension"), "mot_cle": _l("Mots clés"),
    "public": _l("Public"), "statut": _l("Statut de l'action"), "annee": _l("Année"),
}
STATUS_TITLES = {"en_cours": _l("En cours"), "terminee": _l("Terminée")}


def _filters() -> dict[str, list[str]]:
    return {name: request.args.getlist(name) for name, _label, _multi in directory.FACETS if request.args.getlist(name)}


@directory_bp.app_template_filter("departement")
def departement_label(value: str | None) -> str:
    """"93" → "Seine-Saint-Denis (93)"; a text that names no département is shown as written."""
    return departements.label(value)


@directory_bp.app_template_filter("fiche_text")
def fiche_text(value: str | None):
    return render_markdown(directory.text_as_markdown(value))


@directory_bp.route("/")
def index():
    q = (request.args.get("q") or "").strip()[:200]
    page = small_int(request.args.get("page"), 1, 10_000) or 1
    result = directory.search(session(), q, _filters(), page=page)

    def page_url(number: int) -> str:
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
        if number > 1:
            args.append(("page", str(number)))
        return url_for(".index") + ("?" + urlencode(args) if args else "")

    def without(name: str, value: str) -> str:
        """The same page less one criterion (a facet value given in any of its spellings)."""
        def removed(k: str, v: str) -> bool:
            if k != name:
                return False
            return v == value if k == "q" else directory.canonical(k, v) == directory.canonical(name, value)
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "page" and not removed(k, v)]
        return url_for(".index") + ("?" + urlencode(args) if args else "")

    return render_template("directory/index.html", result=result, q=q, page_url=page_url, without=without,
                           facet_titles=FACET_TITLES, status_labels=STATUS_TITLES)


@directory_bp.route("/<int:contribution_id>/")
def fiche(contribution_id: int):
    contribution = directory.get_fiche(session(), contribution_id) or abort(404)
    fiche = contribution.fiche
    initiative = [i for i in (fiche.initiative if fiche else []) if not i.startswith(INITIATIVE_DETAIL_PREFIX)]
    initiative_detail = [i[len(INITIATIVE_DETAIL_PREFIX):] for i in (fiche.initiative if fiche else [])
                         if i.startswith(INITIATIVE_DETAIL_PREFIX)]
    # The body is the fiche's presentation when the partner wrote it there; an import copies the
    # summary into it, which is then shown once.
    copied = () if fiche is None else ((fiche.summary or "").strip(), (fiche.description or "").strip())
    body = contribution.body_md if contribution.body_md and contribution.body_md.strip() not in copied else None
    return render_template("directory/fiche.html", c=contribution, fiche=fiche, body=body,
                           initiative=initiative, initiative_detail=initiative_detail,
                           sections=TEXT_SECTIONS, status_labels=STATUS_TITLES)


@directory_bp.route("/<int:contribution_id>/fichiers/<int:file_id>")
def fiche_file(contribution_id: int, file_id: int):
    contribution = directory.get_fiche(session(), contribution_id) or abort(404)
    attached = next((f for f in contribution.files if f.id == file_id), None) or abort(404)
    response = Response(attached.data, mimetype=attached.content_type)
    disposition = "inline" if attached.kind == "image" else "attachment"
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{_quote(attached.filename)}"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _quote(name: str) -> str:
    return quote(name, safe="")


FEED_MAX_AGE = 300  # seconds a cache may keep the feed before asking again (then a 304)


@directory_bp.route("/feed.atom")
def feed():
    fiches = directory.newest(session())
    generator = FeedGenerator()
    generator.id(urls.absolute("/actions/"))
    generator.title("Les actions du réseau Parentalités")
    generator.subtitle("Les nouvelles fiches action de l'annuaire des actions")
    generator.language("fr")
    generator.author({"name": "Lettre Parentalités", "email": site_settings.current().mail_from_address})
    generator.link(href=urls.absolute("/actions/"), rel="alternate")
    generator.link(href=urls.absolute("/actions/feed.atom"), rel="self")
    generator.updated(max((c.updated_at for c in fiches), default=datetime(2020, 1, 1, tzinfo=UTC)))
    for c in reversed(fiches):  # feedgen prepends: oldest first gives newest first
        entry = generator.add_entry()
        link = urls.absolute(f"/actions/{c.id}/")
        entry.id(link)
        entry.title(c.title)
        entry.link(href=link, rel="alternate")
        entry.published(c.created_at)
        entry.updated(c.updated_at)
        entry.author({"name": c.structure.name})
        summary = (c.fiche.summary if c.fiche and c.fiche.summary else c.body_md) or ""
        entry.content(str(fiche_text(summary)) or c.title, type="html")
        if c.fiche:
            for keyword in c.fiche.keywords or []:
                entry.category(term=keyword)
    return cacheable(Response(generator.atom_str(pretty=True), mimetype="application/atom+xml"),
                     max_age=FEED_MAX_AGE, last_modified=max((c.updated_at for c in fiches), default=None))
