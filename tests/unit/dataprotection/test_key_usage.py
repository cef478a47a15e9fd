"""`data-keys usage` decides each key's role from the key file and the stored counts (pure)."""

from __future__ import annotations

from collections import Counter

import pytest

from ozgbridge.dataprotection.usage import Role, key_uses
from ozgbridge.store.sealed_values import SealedValues


def stored(**by_key: int) -> SealedValues:
    found = SealedValues()
    for key_id, forms in by_key.items():
        found.by_key[None if key_id == "plain" else key_id] = Counter({"form data": forms})
    return found


@pytest.mark.parametrize(
    ("file", "database", "expected"),
    [
        (["new"], {}, [("new", Role.SEALS, 0)]),
        (["new", "old"], {"old": 3}, [("new", Role.SEALS, 0), ("old", Role.OPENS, 3)]),
        (["new", "old"], {"new": 3, "old": 0}, [("new", Role.SEALS, 3), ("old", Role.UNUSED, 0)]),
        (["new"], {"new": 1, "lost": 2}, [("new", Role.SEALS, 1), ("lost", Role.MISSING, 2)]),
        (["new"], {"lost": 0}, [("new", Role.SEALS, 0)]),  # nothing left under it: not shown
        (["new"], {"plain": 4}, [("new", Role.SEALS, 0), (None, Role.PLAINTEXT, 4)]),
        ([], {"lost": 1}, [("lost", Role.MISSING, 1)]),  # no key file at all
    ],
    ids=["one-key", "old-in-use", "old-unused", "missing", "missing-empty", "plaintext", "no-file"],
)
def test_roles(
    file: list[str], database: dict[str, int], expected: list[tuple[str | None, Role, int]]
) -> None:
    rows = key_uses(file, stored(**database))

    assert [(row.key_id, row.role, row.total) for row in rows] == expected
