"""Points in time as people type them in filters: a date, a date and time, or an age."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"(\d{1,6})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_when(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """``2026-11-24``, ``2026-11-24T10:00:00+01:00`` (no zone: UTC) or ``30m``/``6h``/``2d`` ago.

    ValueError for anything else.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = int(relative[1]), relative[2]
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a date/time (2026-11-24, 2026-11-24T10:00Z) nor an age "
            "(30m, 6h, 2d)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
