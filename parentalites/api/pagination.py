"""Opaque page cursors: the page number signed with the app's secret, so that a client follows
`next` and a cursor it made up is a clear 400 rather than a surprise."""
from __future__ import annotations

from itsdangerous import BadData, URLSafeSerializer

from core.settings import get_settings

SALT = "parentalites.api.cursor"
MAX_PAGE = 10_000


class BadCursor(ValueError):
    pass


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt=SALT)


def make_cursor(page: int) -> str:
    return _serializer().dumps({"page": page})


def read_cursor(cursor: str | None) -> int:
    """The page a cursor names (1 without one). A cursor this server did not sign: BadCursor."""
    if not cursor:
        return 1
    try:
        data = _serializer().loads(cursor)
    except BadData as exc:
        raise BadCursor(cursor) from exc
    page = data.get("page") if isinstance(data, dict) else None
    if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= MAX_PAGE:
        raise BadCursor(cursor)
    return page


def page_slice(items: list, page: int, per_page: int) -> tuple[list, str | None]:
    """The items of a page and the cursor of the next one (None on the last)."""
    start = (page - 1) * per_page
    chunk = items[start:start + per_page]
    more = len(items) > start + per_page and page < MAX_PAGE
    return chunk, (make_cursor(page + 1) if more else None)
