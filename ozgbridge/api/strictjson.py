"""JSON bodies with a key twice are refused, not resolved.

RFC 8259 §4 only says names "SHOULD be unique" and leaves the rest to the parser: most (pydantic's
too) keep the last value, some the first. A body whose meaning depends on the parser is
ambiguous — a portal and ozgbridge, or ozgbridge and a filter in front of it, could each see a
different application — so the API follows I-JSON (RFC 7493 §2.3: objects "MUST NOT have members
with duplicate names") and answers 400 naming the key and where it repeats.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jiter

from ozgbridge.api.problems import Problem
from ozgbridge.api.schemas_out import FieldError

_DUPLICATE = re.compile(
    r'^Detected duplicate key "(?P<key>.*)" at line (?P<line>\d+) column (?P<column>\d+)$', re.S
)
TYPE_DUPLICATE_KEY = "urn:ozgbridge:problem:duplicate-key"


def duplicate_key(raw: bytes) -> tuple[str, int, int] | None:
    """The first repeated key in ``raw`` with its line and column; None if none (or not JSON —
    the caller's parser reports that)."""
    try:
        jiter.from_json(raw, catch_duplicate_keys=True, cache_mode="none")
    except ValueError as exc:
        match = _DUPLICATE.match(str(exc))
        if match is not None:
            return match["key"], int(match["line"]), int(match["column"])
    return None


def refuse_duplicate_keys(raw: bytes, column_of: Callable[[int, int], int] | None = None) -> None:
    """Raise a 400 problem naming the first key ``raw`` repeats in one object.

    ``column_of(line, column)``: where a position in ``raw`` is in the body, when ``raw`` is not
    the body itself (a large body's skeleton, api/extract.py)."""
    found = duplicate_key(raw)
    if found is None:
        return
    key, line, column = found
    if column_of is not None:
        column = column_of(line, column)
    shown = key if len(key) <= 100 else key[:100] + "…"
    raise Problem(
        400,
        f'body has the key "{shown}" twice in one object (line {line} column {column}); '
        "each key may appear only once",
        type=TYPE_DUPLICATE_KEY,
        title="Duplicate key in JSON",
        errors=[FieldError(field=shown, message="duplicate key")],
    )
