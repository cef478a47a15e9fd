"""Report periods: whole UTC days, inclusive for people, half-open for the database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ozgbridge.reporting.period import (
    Period,
    last_full_month,
    month_to_date,
    parse_period,
    presets,
    previous,
)


def test_default_is_the_current_month_to_date() -> None:
    assert parse_period(None, None, today=date(2024, 3, 31)) == Period(
        date(2024, 3, 1), date(2024, 3, 31)
    )
    assert month_to_date(date(2026, 11, 1)) == Period(date(2026, 11, 1), date(2026, 11, 1))
    assert last_full_month(date(2026, 3, 1)) == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert last_full_month(date(2026, 1, 15)) == Period(date(2025, 12, 1), date(2025, 12, 31))


def test_quick_links() -> None:
    assert presets(date(2026, 11, 20)) == [
        ("dieser Monat", Period(date(2026, 11, 1), date(2026, 11, 20))),
        ("letzter Monat", Period(date(2026, 10, 1), date(2026, 10, 31))),
        ("dieses Jahr", Period(date(2026, 1, 1), date(2026, 11, 20))),
        ("letzte 12 Monate", Period(date(2025, 12, 1), date(2026, 11, 20))),
    ]
    assert len(presets(date(2026, 11, 20))[3][1].months()) == 12  # the current month included


@pytest.mark.parametrize(
    ("now", "before"),
    [
        # month to date: the same days of the month before
        ((date(2026, 11, 1), date(2026, 11, 20)), (date(2026, 10, 1), date(2026, 10, 20))),
        ((date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 2, 1), date(2026, 2, 28))),
        ((date(2026, 3, 1), date(2026, 3, 30)), (date(2026, 2, 1), date(2026, 2, 28))),
        ((date(2026, 1, 1), date(2026, 3, 31)), (date(2025, 10, 1), date(2025, 12, 31))),
        ((date(2026, 1, 1), date(2026, 1, 31)), (date(2025, 12, 1), date(2025, 12, 31))),
        # any other period: as many days, directly before
        ((date(2026, 10, 5), date(2026, 10, 6)), (date(2026, 10, 3), date(2026, 10, 4))),
    ],
)
def test_previous_period(now: tuple[date, date], before: tuple[date, date]) -> None:
    assert previous(Period(*now)) == Period(*before)


def test_bounds_are_whole_utc_days_with_an_exclusive_end() -> None:
    period = Period(date(2026, 10, 1), date(2026, 10, 31))

    assert period.start == datetime(2026, 10, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2026-10-05", "2026-10-06", (date(2026, 10, 5), date(2026, 10, 6))),
        ("2026-10", None, (date(2026, 10, 1), date(2026, 10, 31))),
        ("2026-01", "2026-12", (date(2026, 1, 1), date(2026, 12, 31))),
        (None, "2026-02", (date(2026, 2, 1), date(2026, 2, 28))),
        ("2026-10-05", None, (date(2026, 10, 5), date(2026, 10, 31))),
    ],
)
def test_days_and_months(first: str | None, last: str | None, expected: tuple[date, date]) -> None:
    assert parse_period(first, last) == Period(*expected)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-13", None, "no such month"),
        ("01.10.2026", None, "not a date"),
        ("2026-10-31", "2026-10-01", "ends"),
        ("0001-01-01", "2026-01-01", "longer than"),
    ],
)
def test_bad_input_says_what_is_wrong(first: str, last: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(first, last)


def test_months_of_a_period() -> None:
    assert Period(date(2025, 11, 15), date(2026, 2, 1)).months() == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]


@pytest.mark.parametrize(
    ("first", "last"), [("0001-01", None), ("0001-01-01", "0001-01-31"), ("9999-12", None)]
)
def test_periods_at_the_calendars_edges_are_refused_for_the_api_and_the_dashboard(
    first: str, last: str | None
) -> None:
    with pytest.raises(ValueError, match=r"0001–9999|out of range"):
        parse_period(first, last)
