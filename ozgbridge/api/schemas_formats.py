"""Text formats of query values and body fields: one pattern each, used by the code and shown in
the OpenAPI document, so the document admits exactly what the checks accept.

Patterns are written for both ECMA-262 (JSON Schema's dialect) and Python's `re`: ASCII classes
only (Python's ``\\d`` would take any Unicode digit), no inline flags. Ranges are spelt out
(months 01–12, years 0001–9999) so a value such as ``0000-00`` does not match; a value that
matches but names no real day (2026-02-30) is still refused by the code, with 422.
"""

from __future__ import annotations

import re
from typing import Any

_YEAR = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_MONTH = "(?:0[1-9]|1[0-2])"
_DAY = "(?:0[1-9]|[12][0-9]|3[01])"
_TIME = "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"

# A report bound: a month (YYYY-MM) or a day (YYYY-MM-DD).
DAY_OR_MONTH_PATTERN = f"^{_YEAR}-{_MONTH}(?:-{_DAY})?$"
# An RFC 3339 date-time (the offset may be left out: UTC), or a day alone (its 00:00 UTC).
INSTANT_PATTERN = f"^{_YEAR}-{_MONTH}-{_DAY}(?:{_TIME}{_OFFSET}?)?$"
# A count or position in a query: decimal digits only (no sign, blanks, "5.0" or "1_0"), and
# few enough that int() of it is cheap.
COUNT_PATTERN = "^[0-9]{1,18}$"

DAY_OR_MONTH = re.compile(DAY_OR_MONTH_PATTERN)
INSTANT = re.compile(INSTANT_PATTERN)
COUNT = re.compile(COUNT_PATTERN)

INSTANT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": INSTANT_PATTERN,
    "description": "RFC 3339 date-time (without offset: UTC), or a day YYYY-MM-DD (00:00 UTC)",
}


def is_count(value: str) -> bool:
    return COUNT.fullmatch(value) is not None
