"""What each data key is for now — `ozgbridge data-keys usage`: the stored values it sealed,
held against the key file. Pure: the counting is `ozgbridge.store.sealed_values`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ozgbridge.store.sealed_values import KINDS, SealedValues


class Role(StrEnum):
    SEALS = "seals new content"
    OPENS = "in use until rewrap"
    UNUSED = "unused: can be removed"
    MISSING = "MISSING: cannot be opened"
    PLAINTEXT = "unencrypted: rewrap seals it"


@dataclass(frozen=True)
class KeyUse:
    key_id: str | None  # None: plaintext
    role: Role
    counts: tuple[int, ...]  # by `KINDS`

    @property
    def total(self) -> int:
        return sum(self.counts)


def key_uses(ids_in_file: Sequence[str], found: SealedValues) -> list[KeyUse]:
    """One row per key of the file (in its order: the first seals), then keys only the database
    names, then plaintext — the last two only where something is stored."""

    def counts(key_id: str | None) -> tuple[int, ...]:
        by_kind = found.by_key.get(key_id)
        return tuple(by_kind[kind] if by_kind else 0 for kind in KINDS)

    rows = [
        KeyUse(key_id, _role(index == 0, found.total(key_id)), counts(key_id))
        for index, key_id in enumerate(ids_in_file)
    ]
    missing = sorted(k for k in found.by_key if k is not None and k not in ids_in_file)
    rows += [KeyUse(k, Role.MISSING, counts(k)) for k in missing if found.total(k)]
    if found.total(None):
        rows.append(KeyUse(None, Role.PLAINTEXT, counts(None)))
    return rows


def _role(first: bool, stored: int) -> Role:
    if first:
        return Role.SEALS
    return Role.OPENS if stored else Role.UNUSED
