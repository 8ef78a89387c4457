"""Dates as French readers write them (issue 13, item 26): « 1er décembre », an event of one day
once with its two times."""
from __future__ import annotations

from datetime import UTC, date, datetime

from core.formatting import date_range, date_time, long_date


def test_the_first_of_the_month_is_1er():
    assert long_date(date(2026, 12, 1)) == "1er décembre 2026"
    assert long_date(date(2026, 12, 2)) == "2 décembre 2026"
    assert long_date(date(2026, 12, 11)) == "11 décembre 2026"  # not « 11er »
    assert date_time(datetime(2026, 3, 1, 9, 30, tzinfo=UTC)) == "1er mars 2026 à 10:30"
    assert long_date(date(2026, 12, 1), "en") == "December 1, 2026"


def test_an_event_of_one_day_shows_its_day_once_and_both_times():
    start, end = datetime(2026, 3, 3, 17, 0, tzinfo=UTC), datetime(2026, 3, 3, 19, 0, tzinfo=UTC)
    assert date_range(start, end) == "mardi 3 mars 2026, de 18 h à 20 h"
    assert date_range(start, datetime(2026, 3, 3, 19, 30, tzinfo=UTC)) == "mardi 3 mars 2026, de 18 h à 20 h 30"
    assert date_range(start, None) == "mardi 3 mars 2026 à 18 h"
    assert date_range(datetime(2026, 4, 30, 8, 0, tzinfo=UTC), datetime(2026, 5, 1, 16, 0, tzinfo=UTC)) == (
        "du jeudi 30 avril 2026 à 10 h au vendredi 1er mai 2026 à 18 h")
    # The day is Paris's: 22:15 UTC on the 30th of April is a quarter past midnight on the 1st of May.
    assert date_range(datetime(2026, 4, 30, 22, 15, tzinfo=UTC), datetime(2026, 5, 1, 16, 0, tzinfo=UTC)) == (
        "vendredi 1er mai 2026, de 0 h 15 à 18 h")
    assert date_range(start, end, "en") == "Tuesday, March 3, 2026, 6:00 PM – 8:00 PM"
    assert date_range(None, None) == ""


def test_time_datetime_values_have_at_most_three_decimals():
    from datetime import timedelta, timezone

    from core.formatting import iso
    assert iso(datetime(2026, 3, 3, 17, 0, 5, 123456, tzinfo=UTC)) == "2026-03-03T17:00:05Z"
    assert iso(datetime(2026, 3, 3, 18, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-03-03T17:00:00Z"
    assert iso(date(2026, 3, 3)) == "2026-03-03"
    assert iso(None) == ""


def test_counts_agree_in_number_instead_of_saying_s_in_brackets():
    """« 3 contribution(s) » reads badly: every count goes through ngettext (pages) or `plural`
    (French-only e-mails and commands). Labels that are not counts are allowed."""
    import re

    from tests.conftest import ROOT
    allowed = ("http(s)", "Fichier(s) associé(s)", "partenaire(s)")
    offenders = []
    for folder in ("templates", "accounts", "contributions", "core", "events", "mailing", "newsletter",
                   "parentalites", "subscribers", "tasks"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".html", ".txt", ".mjml") or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for kept in allowed:
                    line = line.replace(kept, "")
                if re.search(r"\w(·e)?\((s|e|e·s|·e|·e·s|·s)\)", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)


def test_plural_is_french():
    from core.formatting import plural
    assert [plural(n, "lettre", "lettres") for n in (0, 1, 2, 10)] == ["lettre", "lettre", "lettres", "lettres"]
