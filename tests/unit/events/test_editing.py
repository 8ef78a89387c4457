"""An event's links (online meeting, satisfaction survey) go into hrefs on the site and in e-mails:
the service keeps only http(s) addresses, whatever the form let through."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.editing import EventData, EventError, _clean
from events.models import EventType

START = datetime(2027, 3, 4, 17, 30, tzinfo=UTC)


def data(**links) -> EventData:
    return EventData(type=EventType.soiree_reaap, title="Soirée des parents", starts_at=START,
                     ends_at=START + timedelta(hours=2), **links)


@pytest.mark.parametrize("field", ["online_url", "survey_url"])
@pytest.mark.parametrize("url", [
    "javascript://reunion.example/%0aalert(1)",  # passes WTForms' URL validator, runs as script in an href
    "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://files.example/x",
    "https://reunion.example/a b", "//reunion.example/x",
])
def test_a_link_that_is_not_http_is_refused(field, url):
    with pytest.raises(EventError, match="https://"):
        _clean(data(**{field: url}))


def test_http_links_are_kept_trimmed_and_empty_ones_dropped():
    cleaned = _clean(data(online_url=" https://visio.example/reaap?id=4 ", survey_url=""))
    assert (cleaned.online_url, cleaned.survey_url) == ("https://visio.example/reaap?id=4", None)
