"""The period the statistics cover: two dates (from, to, both included), read from the query
string (`du`, `au`, ISO dates), this calendar year by default. Days start at midnight in Paris."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from core.formatting import PARIS

# Far enough for every report, near enough that a month-by-month series stays short.
MIN_YEAR = 2000
MAX_YEAR = 2100
MAX_MONTHS = 120


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # included
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def start(self) -> datetime:
        """The first instant of the period (aware, Paris midnight)."""
        return datetime.combine(self.first, time(), PARIS)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), PARIS)

    def months(self) -> list[str]:
        """Every month the period touches, as "YYYY-MM"."""
        months, year, month = [], self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    def month_bounds(self) -> list[tuple[str, datetime, datetime]]:
        """Each month of the period with its first instant and the first instant after it (Paris
        midnights; the first and last months are cut to the period)."""
        bounds = []
        for month in self.months():
            year, number = int(month[:4]), int(month[5:])
            first = datetime(year, number, 1, tzinfo=PARIS)
            after = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=PARIS)
            bounds.append((month, max(first, self.start), min(after, self.end)))
        return bounds

    def args(self) -> dict[str, str]:
        return {"du": self.first.isoformat(), "au": self.last.isoformat()}


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31))


def _date(value: str | None) -> date | None:
    try:
        parsed = date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


def parse_period(args: Mapping, today: date) -> Period:
    """The period asked for, or this year. A date that cannot be read, dates in the wrong order or
    a period longer than ten years are replaced, and the reason is given (French, for the page)."""
    default = year_period(today.year)
    problems = []
    raw_first, raw_last = args.get("du") or "", args.get("au") or ""
    first, last = _date(raw_first), _date(raw_last)
    if raw_first and first is None:
        problems.append("Date de début illisible (attendu : AAAA-MM-JJ), remplacée par le 1er janvier.")
    if raw_last and last is None:
        problems.append("Date de fin illisible (attendu : AAAA-MM-JJ), remplacée par le 31 décembre.")
    first, last = first or default.first, last or default.last
    if first > last:
        problems.append("La date de début suivait la date de fin : elles ont été inversées.")
        first, last = last, first
    period = Period(first, last)
    if len(period.months()) > MAX_MONTHS:
        problems.append("La période est limitée à dix ans : la fin a été rapprochée.")
        last = date(first.year + 10, first.month, 1) - timedelta(days=1)
    return Period(first, last, tuple(problems))
