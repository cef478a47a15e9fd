"""Numbers, shares and dates the German way (``1.234``, ``2,5 s``, ``97,5 %``, ``31.10.2026``)."""

from __future__ import annotations

from datetime import date, datetime

from ozgbridge.reporting.period import Period

DASH = "–"


def fmt_int(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _decimal(value: float, digits: int) -> str:
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def fmt_seconds(value: float | None) -> str:
    return DASH if value is None else f"{_decimal(value, 1)} s"


def fmt_share(value: float | None) -> str:
    """A share 0…1 as a percentage with one decimal."""
    return DASH if value is None else f"{_decimal(value * 100, 1)} %"


def fmt_ratio(value: float | None) -> str:
    return DASH if value is None else _decimal(value, 2)


def fmt_delta(now: int, before: int) -> str:
    difference = now - before
    if difference == 0:
        return "±0"
    return f"{'+' if difference > 0 else '−'}{fmt_int(abs(difference))}"


def fmt_delta_share(now: float | None, before: float | None) -> str:
    """The change of a share in percentage points (Pp.)."""
    if now is None or before is None:
        return DASH
    points = (now - before) * 100
    if round(points, 1) == 0:
        return "±0 Pp."
    return f"{'+' if points > 0 else '−'}{_decimal(abs(points), 1)} Pp."


def fmt_bool(value: bool | None) -> str:
    return DASH if value is None else ("ja" if value else "nein")


def fmt_date(value: date) -> str:
    return f"{value:%d.%m.%Y}"


def fmt_datetime(value: datetime | None) -> str:
    return DASH if value is None else f"{value:%d.%m.%Y %H:%M} UTC"


def fmt_month(value: str) -> str:
    """``YYYY-MM`` as ``MM.YYYY``."""
    year, month = value.split("-")
    return f"{month}.{year}"


def fmt_period(period: Period) -> str:
    return f"{fmt_date(period.first)} – {fmt_date(period.last)}"
