"""Dates and times as French readers expect them (Europe/Paris), for web and e-mail templates."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

PARIS = ZoneInfo("Europe/Paris")


def long_date(value: date | datetime | None, locale: str = "fr") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    return format_date(value, format="long", locale=locale)


def date_time(value: datetime | None, locale: str = "fr") -> str:
    if value is None:
        return ""
    return format_datetime(value.astimezone(PARIS), "d MMMM y 'à' HH:mm" if locale == "fr"
                           else "MMMM d, y 'at' HH:mm", locale=locale)


def end_time(end: datetime | None, start: datetime | None, locale: str = "fr") -> str:
    """The end of an event after its start: « 16:30 » on the same day (Paris), else in full."""
    if end is None or start is None or end <= start:
        return ""
    if end.astimezone(PARIS).date() == start.astimezone(PARIS).date():
        return end.astimezone(PARIS).strftime("%H:%M")
    return date_time(end, locale)


def format_duration(seconds: float | None) -> str:
    """A short duration for people: « 2 h 05 min », « 3 min 20 s », « 12 s »."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def install_filters(env) -> None:
    env.filters["long_date"] = long_date
    env.filters["date_time"] = date_time
    env.filters["end_time"] = end_time
    env.filters["duration"] = format_duration
