"""Dates and times as French readers expect them (Europe/Paris), for web and e-mail templates."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

PARIS = ZoneInfo("Europe/Paris")


def _fr_day(value: date, pattern: str) -> str:
    """`pattern` with its `d` written « 1er » on the first of the month, as French does."""
    return pattern.replace("d MMMM", "'1er' MMMM") if value.day == 1 else pattern


def long_date(value: date | datetime | None, locale: str = "fr") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date()
    if locale == "fr":
        return format_date(value, _fr_day(value, "d MMMM y"), locale=locale)
    return format_date(value, format="long", locale=locale)


def date_time(value: datetime | None, locale: str = "fr") -> str:
    if value is None:
        return ""
    value = value.astimezone(PARIS)
    return format_datetime(value, _fr_day(value, "d MMMM y 'à' HH:mm") if locale == "fr"
                           else "MMMM d, y 'at' HH:mm", locale=locale)


def end_time(end: datetime | None, start: datetime | None, locale: str = "fr") -> str:
    """The end of an event after its start: « 16:30 » on the same day (Paris), else in full."""
    if end is None or start is None or end <= start:
        return ""
    if end.astimezone(PARIS).date() == start.astimezone(PARIS).date():
        return end.astimezone(PARIS).strftime("%H:%M")
    return date_time(end, locale)
def _fr_time(value: datetime) -> str:
    """« 18 h », « 18 h 30 »: the hour as French typography writes it."""
    return f"{value.hour} h" if value.minute == 0 else f"{value.hour} h {value.minute:02d}"


def date_range(start: datetime | None, end: datetime | None = None, locale: str = "fr") -> str:
    """When an event takes place, in Paris: « mardi 3 mars 2026, de 18 h à 20 h » (one day, shown
    once), « du jeudi 30 avril 2026 à 10 h au vendredi 1er mai 2026 à 18 h », or « mardi 3 mars
    2026 à 18 h » without an end."""
    if start is None:
        return ""
    start = start.astimezone(PARIS)
    end = end.astimezone(PARIS) if end is not None else None
    if locale != "fr":
        day, time = "EEEE, MMMM d, y", "h:mm a"
        first = format_datetime(start, f"{day}, {time}", locale=locale)
        if end is None:
            return first
        if end.date() == start.date():
            return f"{first} – {format_datetime(end, time, locale=locale)}"
        return f"{first} – {format_datetime(end, f'{day}, {time}', locale=locale)}"

    def day_fr(value: datetime) -> str:
        return format_datetime(value, _fr_day(value, "EEEE d MMMM y"), locale="fr")
    if end is None:
        return f"{day_fr(start)} à {_fr_time(start)}"
    if end.date() == start.date():
        return f"{day_fr(start)}, de {_fr_time(start)} à {_fr_time(end)}"
    return f"du {day_fr(start)} à {_fr_time(start)} au {day_fr(end)} à {_fr_time(end)}"


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


def iso(value: date | datetime | None) -> str:
    """A `<time datetime>` value HTML accepts: a date, or a moment to the second in UTC
    (« 2026-03-03T17:00:00Z »; Python's isoformat would write microseconds, which HTML refuses
    beyond three decimals)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat(timespec="seconds")
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value.isoformat()


def plural(count: int, singular: str, plural_form: str) -> str:
    """The word that agrees with `count` in French (0 and 1 take the singular), for French-only
    text: e-mails to the editors, the command line. Pages use ngettext."""
    return singular if abs(count) < 2 else plural_form


def install_filters(env) -> None:
    env.filters["long_date"] = long_date
    env.filters["date_time"] = date_time
    env.filters["end_time"] = end_time
    env.filters["date_range"] = date_range
    env.filters["iso"] = iso
    env.filters["plural"] = plural
    env.filters["duration"] = format_duration
