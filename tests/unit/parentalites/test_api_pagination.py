"""The API's page cursors (parentalites/api/pagination.py): signed, so that a made-up or altered
one is refused (a 400 in the views) instead of reading some page."""
from __future__ import annotations

import base64
import json

import pytest

from parentalites.api.pagination import MAX_PAGE, BadCursor, make_cursor, page_slice, read_cursor


def test_a_cursor_names_its_page():
    assert read_cursor(make_cursor(3)) == 3
    assert read_cursor(None) == 1 and read_cursor("") == 1


@pytest.mark.parametrize("cursor", [
    "forged", "3", "a" * 5000, "\x00", "é",
    base64.urlsafe_b64encode(json.dumps({"page": 2}).encode()).decode(),  # well formed, unsigned
])
def test_a_cursor_it_did_not_sign_is_refused(cursor):
    with pytest.raises(BadCursor):
        read_cursor(cursor)


def test_an_altered_cursor_is_refused():
    cursor = make_cursor(2)
    with pytest.raises(BadCursor):
        read_cursor(cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"))


def test_a_signed_cursor_beyond_the_last_page_allowed_is_refused():
    from parentalites.api import pagination
    for page in (0, -1, MAX_PAGE + 1, True, "2"):
        with pytest.raises(BadCursor):
            read_cursor(pagination._serializer().dumps({"page": page}))


def test_pages_and_their_next_cursor():
    items = list(range(5))
    assert page_slice(items, 1, 2)[0] == [0, 1] and read_cursor(page_slice(items, 1, 2)[1]) == 2
    assert page_slice(items, 3, 2) == ([4], None)
    assert page_slice(items, 9, 2) == ([], None)
