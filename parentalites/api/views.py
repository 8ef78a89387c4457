"""The API's routes (blueprint `api`, /api/…) and how the app takes it in (`install_api`)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NoReturn
from urllib.parse import urlencode

from flask import Blueprint as FlaskBlueprint
from flask import Flask, current_app, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_smorest import Api, Blueprint, abort
from werkzeug.exceptions import HTTPException

from contributions import directory
from contributions.fulltext import fold
from contributions.models import Contribution, Structure
from core import departements, urls
from core.db import session, utcnow
from core.extensions import csrf, limiter
from core.formatting import PARIS
from core.text import render_markdown
from events import services as events
from events.models import Event
from events.views import TYPE_LABELS
from newsletter import archive
from newsletter.models import Issue
from parentalites.api import schemas
from parentalites.api.pagination import BadCursor, make_cursor, page_slice, read_cursor

API_VERSION = "1"
DEFAULT_RATE_LIMIT = "120 per minute"  # per client address; app.config["API_RATE_LIMIT"] changes it
CACHE_CONTROL = "public, max-age=60"
PARTNER_TYPE_LABEL = "Événement d'une structure du réseau"

api_bp = Blueprint("api", __name__, url_prefix="/api", description=(
    "Les données publiques du réseau : l'agenda, l'annuaire des actions, les lettres envoyées. "
    "Lecture seule ; aucune donnée personnelle."))
# Any other /api/… URL: a JSON 404 too, not the site's HTML page.
fallback_bp = FlaskBlueprint("api_fallback", __name__, url_prefix="/api")
API_BLUEPRINTS = ("api", "api_fallback", "api-docs")


def _rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT)


limiter.shared_limit(_rate_limit, scope="api")(api_bp)  # one budget for the whole API


# --- Pages and links ---------------------------------------------------------------------------------

def _error(code: int, message: str) -> NoReturn:
    """A JSON error in flask-smorest's shape ({code, status, message}), as the document says."""
    abort(code, message=message)
    raise AssertionError("abort raises")  # flask-smorest's abort is untyped


def _page() -> int:
    try:
        return read_cursor(request.args.get("cursor"))
    except BadCursor:
        _error(400, _("Curseur de page invalide : reprenez à la première page, sans curseur."))


def _next_url(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"] + [("cursor", cursor)]
    return urls.absolute(request.path + "?" + urlencode(args))


def _absolute(endpoint: str, **values) -> str:
    return urls.absolute(url_for(endpoint, **values))


# --- Events ------------------------------------------------------------------------------------------

def _structure(structure: Structure) -> dict:
    return {"id": structure.id, "name": structure.name, "kind": structure.kind.value, "commune": structure.commune,
            "departement": structure.departement, "website": structure.website}


def network_event_data(event: Event) -> dict:
    # Its contact address stays on the site: the API gives out no e-mail address.
    return {
        "source": "reseau", "id": event.id, "type": event.type.value, "type_label": str(TYPE_LABELS[event.type]),
        "title": event.title, "description_md": event.description_md or "",
        "description_html": str(render_markdown(event.description_md)),
        "starts_at": event.starts_at, "ends_at": event.ends_at, "place": event.place, "address": event.address,
        "access_info": event.access_info, "accessibility_info": event.accessibility_info,
        "online_url": event.online_url, "audience": None, "link": None, "contact": None,
        "organiser": event.organiser, "status": event.status.value,
        "registration_open": events.registration_open(event), "structure": None,
        "url": _absolute("api.event", event_id=event.id),
        "page_url": _absolute("events.event", event_id=event.id),
    }


def partner_event_data(contribution: Contribution) -> dict:
    assert contribution.event_start is not None  # a partner event has a start (the query says so)
    return {
        "source": "partenaire", "id": contribution.id, "type": schemas.PARTNER_TYPE,
        "type_label": PARTNER_TYPE_LABEL, "title": contribution.title,
        "description_md": contribution.body_md or "", "description_html": str(render_markdown(contribution.body_md)),
        "starts_at": contribution.event_start, "ends_at": contribution.event_end, "place": contribution.place,
        "address": None, "access_info": None, "accessibility_info": None, "online_url": None,
        "audience": contribution.audience, "link": contribution.link, "contact": contribution.contact,
        "organiser": contribution.structure.name, "status": "scheduled", "registration_open": False,
        "structure": _structure(contribution.structure),
        "url": _absolute("api.partner_event", contribution_id=contribution.id),
        "page_url": _absolute("events.partner_event", contribution_id=contribution.id),
    }


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=PARIS)


def _in_commune(commune: str, *texts: str | None) -> bool:
    wanted = fold(" ".join(commune.split()))
    return any(wanted in fold(text) for text in texts if text)


def upcoming_events(date_from: date | None = None, date_to: date | None = None, type: str | None = None,  # noqa: A002
                    commune: str | None = None, structure: int | None = None) -> list[dict]:
    """The agenda's events (the network's and its partners'), soonest first: those not over at
    `date_from` (Paris time; now by default) that start before the end of `date_to`. The widgets
    read this too."""
    db = session()
    lower = _paris_midnight(date_from) if date_from else utcnow()
    upper = _paris_midnight(date_to + timedelta(days=1)) if date_to else None
    commune = (commune or "").strip()[:120]
    items: list[tuple[datetime, int, dict]] = []
    if structure is None and type != schemas.PARTNER_TYPE:
        for event in events.upcoming(db, now=lower):
            if (type and event.type.value != type) or (upper and event.starts_at >= upper):
                continue
            if commune and not _in_commune(commune, event.address, event.place):
                continue
            items.append((event.starts_at, event.id, network_event_data(event)))
    if type in (None, schemas.PARTNER_TYPE):
        for contribution in events.partner_events(db, now=lower):
            assert contribution.event_start is not None
            if structure is not None and contribution.structure_id != structure:
                continue
            if upper and contribution.event_start >= upper:
                continue
            if commune and not _in_commune(commune, contribution.structure.commune, contribution.place):
                continue
            items.append((contribution.event_start, contribution.id, partner_event_data(contribution)))
    items.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in items]


@api_bp.route("/events")
@api_bp.arguments(schemas.EventsQuery, location="query", as_kwargs=True)
@api_bp.response(200, schemas.EventPageSchema)
def event_list(limit: int, cursor: str | None = None, **filters):
    """Les événements à venir

    Ceux du réseau et ceux des structures, les plus proches d'abord ; filtrés par type, commune,
    période ou structure."""
    page = _page()
    with force_locale("fr"):
        items = upcoming_events(**filters)
    chunk, next_cursor = page_slice(items, page, limit)
    return {"items": chunk, "total": len(items), "next": next_cursor, "next_url": _next_url(next_cursor)}


@api_bp.route("/events/<int:event_id>")
@api_bp.response(200, schemas.EventSchema)
def event(event_id: int):
    """Un événement du réseau"""
    found = session().get(Event, event_id)
    if found is None:
        _error(404, _("Aucun événement ne porte ce numéro."))
    with force_locale("fr"):
        return network_event_data(found)


@api_bp.route("/partner-events/<int:contribution_id>", endpoint="partner_event")
@api_bp.response(200, schemas.EventSchema)
def partner_event_view(contribution_id: int):
    """Un événement d'une structure"""
    found = events.partner_event(session(), contribution_id)
    if found is None:
        _error(404, _("Aucun événement de structure ne porte ce numéro."))
    return partner_event_data(found)


# --- The directory of actions ------------------------------------------------------------------------

def _fiche_summary(contribution: Contribution) -> dict:
    fiche = contribution.fiche
    departement = (fiche.departement if fiche else None) or contribution.structure.departement or None
    return {
        "id": contribution.id, "title": contribution.title, "summary": fiche.summary if fiche else None,
        "departement": departement, "departement_label": departements.label(departement) if departement else None,
        "year": fiche.year if fiche else None, "action_status": fiche.action_status if fiche else None,
        "dimension": fiche.dimension if fiche else None,
        "keywords": list(fiche.keywords or []) if fiche else [], "public": list(fiche.public or []) if fiche else [],
        "structure": _structure(contribution.structure),
        "url": _absolute("api.action", fiche_id=contribution.id),
        "page_url": _absolute("directory.fiche", contribution_id=contribution.id),
    }


FICHE_TEXT_FIELDS = ("structure_label", "status_reason", "territory", "description", "partners_description",
                     "financial_resources", "people_mobilised", "result_territory", "result_structure",
                     "result_inhabitants", "limits", "perspectives", "contact")


def _fiche(contribution: Contribution) -> dict:
    fiche = contribution.fiche
    data = _fiche_summary(contribution)
    data["body_md"] = contribution.body_md or ""
    for name in FICHE_TEXT_FIELDS:
        data[name] = getattr(fiche, name) if fiche else None
    data["initiative"] = list(fiche.initiative or []) if fiche else []
    data["partners"] = list(fiche.partners or []) if fiche else []
    data["files"] = [{"kind": f.kind, "filename": f.filename, "title": f.title, "alt_text": f.alt_text,
                      "content_type": f.content_type,
                      "url": _absolute("directory.fiche_file", contribution_id=contribution.id, file_id=f.id)}
                     for f in contribution.files]
    return data


@api_bp.route("/actions")
@api_bp.arguments(schemas.ActionsQuery, location="query", as_kwargs=True)
@api_bp.response(200, schemas.FichePageSchema)
def action_list(limit: int, q: str, cursor: str | None = None, **facets):
    """L'annuaire des actions

    La même recherche en français et les mêmes facettes que /actions/ : dans une facette, les
    valeurs se cumulent (ou) ; les facettes se combinent (et)."""
    page = _page()
    q = (q or "").strip()[:schemas.MAX_QUERY_LENGTH]
    filters = {name: values for name, values in facets.items() if values}
    result = directory.search(session(), q, filters, page=page, per_page=limit)
    past_the_end = page > result.pages  # search() shows its last page then: the API shows none
    next_cursor = make_cursor(page + 1) if page < result.pages else None
    return {
        "query": result.query, "total": result.total, "next": next_cursor, "next_url": _next_url(next_cursor),
        "items": [] if past_the_end else [_fiche_summary(c) for c in result.results],
        "facets": [{"name": f.name, "label": f.label,
                    "values": [{"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                               for v in f.values]} for f in result.facets],
    }


@api_bp.route("/actions/<int:fiche_id>")
@api_bp.response(200, schemas.FicheSchema)
def action(fiche_id: int):
    """Une fiche action"""
    found = directory.get_fiche(session(), fiche_id)
    if found is None:
        _error(404, _("Aucune fiche action publiée ne porte ce numéro."))
    return _fiche(found)


# --- The letters -------------------------------------------------------------------------------------

def _letter_summary(issue: Issue) -> dict:
    assert issue.numero is not None  # a published letter has its number
    return {"numero": issue.numero, "title": issue.title, "issue_date": issue.issue_date,
            "published_at": issue.published_at, "summary": issue.archive_summary,
            "url": _absolute("api.letter", numero=issue.numero),
            "page_url": urls.absolute(urls.letter_path(issue.numero))}


def latest_letter() -> dict | None:
    """The newest sent letter, as the API gives it (the widgets read it too)."""
    issues = archive.published_issues(session())
    return _letter_summary(issues[0]) if issues else None


@api_bp.route("/letters")
@api_bp.arguments(schemas.LettersQuery, location="query", as_kwargs=True)
@api_bp.response(200, schemas.LetterPageSchema)
def letter_list(limit: int, cursor: str | None = None):
    """Les lettres envoyées

    Les numéros publiés, du plus récent au plus ancien."""
    page = _page()
    issues = archive.published_issues(session())
    chunk, next_cursor = page_slice(issues, page, limit)
    return {"items": [_letter_summary(i) for i in chunk], "total": len(issues), "next": next_cursor,
            "next_url": _next_url(next_cursor)}


@api_bp.route("/letters/<int:numero>")
@api_bp.response(200, schemas.LetterSchema)
def letter(numero: int):
    """Une lettre envoyée

    Sa version web, figée à l'envoi."""
    issue = archive.published_issue(session(), numero)
    if issue is None:
        _error(404, _("Aucune lettre publiée ne porte ce numéro."))
    data = _letter_summary(issue)
    data["html"] = issue.archive_html or ""
    data["email_page_url"] = _absolute("public.letter_email", numero=numero)
    return data


@fallback_bp.route("/", defaults={"rest": ""})
@fallback_bp.route("/<path:rest>")
def not_found(rest: str):
    _error(404, _("Cette adresse n'existe pas dans l'API : voyez /api/openapi.json."))


# --- Into the app ------------------------------------------------------------------------------------

def json_error(error: HTTPException):
    """An error of the API's blueprints in flask-smorest's shape ({code, status, message, errors}),
    as the OpenAPI document describes it (its own handler is app-wide: the site keeps its pages)."""
    payload: dict = {"code": error.code, "status": error.name}
    data = getattr(error, "data", None) or {}  # flask_smorest.abort(…, message=…) and webargs put it there
    if "message" in data:
        payload["message"] = data["message"]
    if "errors" in data or "messages" in data:
        payload["errors"] = data.get("errors", data.get("messages"))
    return payload, error.code, data.get("headers", {})


for _blueprint in (api_bp, fallback_bp):
    _blueprint.register_error_handler(HTTPException, json_error)
    # A handler for a code wins over one for a class, app-wide: name the codes the app names.
    for _code in (400, 403, 404, 405, 422, 429, 500):
        _blueprint.register_error_handler(_code, json_error)


class PublicApi(Api):
    def _register_error_handlers(self):
        pass  # json_error, on the API's blueprints only


def _integer_parameter(converter) -> dict:
    schema = {"type": "integer", "minimum": 0}
    if converter.max is not None:
        schema["maximum"] = converter.max
    return schema


def is_api_request() -> bool:
    return request.blueprint in API_BLUEPRINTS or request.path == "/api" or request.path.startswith("/api/")


def _cacheable_and_open(response):
    """Every API answer may be read by any site; a 200 carries an ETag and answers
    If-None-Match with a 304."""
    if not is_api_request():
        return response
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    if request.method in ("GET", "HEAD") and response.status_code == 200:
        response.headers["Cache-Control"] = CACHE_CONTROL
        response.add_etag()
        response.make_conditional(request)
    return response


def install_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Parentalités")
    app.config.setdefault("API_VERSION", API_VERSION)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    csrf.exempt(api_bp)  # GET only: nothing to forge
    api = PublicApi()
    api.init_app(app)
    api.register_converter(app.url_map.converters["int"], _integer_parameter)
    api.register_blueprint(api_bp)
    app.register_blueprint(fallback_bp)
    app.after_request(_cacheable_and_open)
