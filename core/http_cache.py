"""HTTP caching of the pages that do not change once made (a sent letter, its PDF, the feeds, the
agenda's iCalendar): `ETag`, `Last-Modified`, `Cache-Control`, and 304 on a conditional GET, with
Werkzeug's own machinery (`Response.set_etag`, `add_etag`, `make_conditional`).

A page whose validators are known before it is rendered (a frozen letter: its id and publication
time) answers a conditional GET without rendering anything (`not_modified`). The validators of an
HTML page also name what else shapes it: the language, and the site's templates and translations
as deployed (`site_version`), so that a new release is never answered « not modified »
with yesterday's page. A signed-in reader gets the page uncached: it names them.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from flask import Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def site_version() -> tuple[str, datetime | None]:
    """A digest of what renders the pages (templates, compiled translations, stylesheet) and the
    time of the newest of them: the same in every process of one deployment."""
    digest = hashlib.sha256()
    newest = 0.0
    for folder, pattern in (("templates", "**/*"), ("translations", "**/*.mo"), ("static", "*.css")):
        for path in sorted((ROOT / folder).glob(pattern)):
            if path.is_file():
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
                newest = max(newest, path.stat().st_mtime)
    return digest.hexdigest()[:16], (datetime.fromtimestamp(int(newest), UTC) if newest else None)


def page_etag(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, (site_version()[0], *parts))).encode()).hexdigest()[:32]


def page_last_modified(changed_at: datetime | None) -> datetime | None:
    deployed = site_version()[1]
    candidates = [d for d in (changed_at, deployed) if d is not None]
    return max(candidates) if candidates else None


def _validators(response: Response, etag: str | None, last_modified: datetime | None, max_age: int,
                vary: tuple[str, ...]) -> Response:
    if etag is None:
        response.add_etag()  # a digest of the body
    else:
        response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified.replace(microsecond=0)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.cache_control.no_cache = None
    for header in vary:
        response.vary.add(header)
    return response


def not_modified(etag: str, last_modified: datetime | None, max_age: int,
                 vary: tuple[str, ...] = ()) -> WerkzeugResponse | None:
    """A 304 when the client's copy is current, before anything is rendered; None otherwise."""
    if not (request.if_none_match or request.if_modified_since):
        return None
    probe = _validators(Response(), etag, last_modified, max_age, vary).make_conditional(request)
    return probe if probe.status_code == 304 else None


def cacheable(response: Response, *, max_age: int, etag: str | None = None,
              last_modified: datetime | None = None, vary: tuple[str, ...] = ()) -> WerkzeugResponse:
    """Give `response` its validators and caching policy, and turn it into a 304 when the request's
    If-None-Match / If-Modified-Since say the client has it."""
    return _validators(response, etag, last_modified, max_age, vary).make_conditional(request)


def uncached(response: Response) -> Response:
    """A page that names its reader (signed in, a message to show): never kept by a shared cache."""
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response
