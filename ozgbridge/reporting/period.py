"""Report periods: whole UTC days, given as inclusive dates, computed as half-open intervals.

Coordinators think in "1 October to 31 October"; the database compares timestamps. A `Period`
holds both: ``first`` and ``last`` day (inclusive) and ``start``/``end`` instants with ``end``
exclusive, so that no application at 23:59:59.9 falls between two reports.

The default is the current month to date; `presets` are the dashboard's quick links and
`previous` the period a report compares its headline figures with (Δ).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_MONTH = re.compile(r"\d{4}-\d{2}")


@dataclass(frozen=True)
class Period:
    """From ``first`` to ``last`` (both inclusive, whole days in UTC)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    def months(self) -> list[str]:
        """Every month the period touches, as ``YYYY-MM``, in order."""
        months = []
        year, month = self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def last_full_month(today: date | None = None) -> Period:
    """The calendar month before the one containing ``today`` (default: today in UTC)."""
    last = _today(today).replace(day=1) - timedelta(days=1)
    return Period(last.replace(day=1), last)


def month_to_date(today: date | None = None) -> Period:
    """From the first of the current month to today (UTC): the report's default."""
    today = _today(today)
    return Period(today.replace(day=1), today)


def _add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of the target month (31.3. − 1 → 28.2.)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, _month_end(year, month + 1).day))


def presets(today: date | None = None) -> list[tuple[str, Period]]:
    """The quick links: this month and this year to date, last month, the last 12 months
    (the current month included, so eleven full months before it)."""
    today = _today(today)
    return [
        ("dieser Monat", month_to_date(today)),
        ("letzter Monat", last_full_month(today)),
        ("dieses Jahr", Period(date(today.year, 1, 1), today)),
        ("letzte 12 Monate", Period(_add_months(today.replace(day=1), -11), today)),
    ]


def previous(period: Period) -> Period:
    """The period a report compares with: as long, directly before.

    A period starting on the first of a month moves back by the months it touches, day for day
    (1.–20. November → 1.–20. October; a whole quarter → the quarter before); any other period
    moves back by its length in days.
    """
    if period.first.day == 1:
        months = len(period.months())
        last = _add_months(period.last, -months)
        if period.last == _month_end(period.last.year, period.last.month):
            last = _month_end(last.year, last.month)  # whole months stay whole months
        return Period(_add_months(period.first, -months), last)
    length = period.last - period.first + timedelta(days=1)
    return Period(period.first - length, period.last - length)


def _parse_bound(value: str, *, end: bool) -> date:
    value = value.strip()
    if _MONTH.fullmatch(value):
        year, month = int(value[:4]), int(value[5:])
        if not 1 <= month <= 12:
            raise ValueError(f"{value!r}: no such month")
        return _month_end(year, month) if end else date(year, month, 1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or a month (YYYY-MM)") from None


def parse_period(
    first: str | None, last: str | None, *, today: date | None = None, max_days: int = 3700
) -> Period:
    """A period from user input; either bound may be a day or a month (``2026-10`` = all of it).

    Without both bounds the default is the current month to date; with only one, the other is
    taken from the month it names (``from=2026-03`` alone means March 2026). ``max_days`` keeps a
    typo like ``from=0001-01-01`` from becoming a report over two millennia.
    """
    if not first and not last:
        return month_to_date(today)
    start = _parse_bound(first or last or "", end=False)
    stop = _parse_bound(last or first or "", end=True)
    if not first:
        start = stop.replace(day=1)
    if not last:
        stop = _month_end(start.year, start.month)
    period = Period(start, stop)
    if (period.last - period.first).days >= max_days:
        raise ValueError(f"the period is longer than {max_days} days")
    try:
        # A report counts up to the day after the period and compares it with the period
        # before: both must be days the calendar has (0001-01-01 to 9999-12-31). Checked here
        # so the API and the dashboard refuse it alike (the dashboard once answered 500).
        _ = (period.end, previous(period).start)
    except (ValueError, OverflowError):
        raise ValueError("the period and the one before it must lie in 0001–9999") from None
    return period
