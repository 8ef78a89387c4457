"""The end of an event beside its start (issue 13 #23): the time alone on the same Paris day."""
from __future__ import annotations

from datetime import UTC, datetime

from core.formatting import end_time


def test_same_paris_day_gives_the_time_alone():
    assert end_time(datetime(2031, 10, 20, 14, 30, tzinfo=UTC), datetime(2031, 10, 20, 12, tzinfo=UTC)) == "16:30"


def test_another_day_or_no_end_or_an_end_before_the_start():
    start = datetime(2031, 10, 20, 12, tzinfo=UTC)
    assert end_time(datetime(2031, 10, 21, 9, tzinfo=UTC), start) == "21 octobre 2031 à 11:00"
    # 23:30 UTC is already the next day in Paris.
    assert end_time(datetime(2031, 10, 20, 23, 30, tzinfo=UTC), start) == "21 octobre 2031 à 01:30"
    assert end_time(None, start) == "" and end_time(start, start) == ""
