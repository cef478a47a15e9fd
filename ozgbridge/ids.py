"""Sortable identifiers (ULID: 48-bit millisecond time + 80 random bits, Crockford base32).

Sortable so that ids double as a rough creation order in listings and indexes stay append-mostly.

Every accepted application takes two ids, so making one is on the intake's hot path. The random
bits come from the operating system's CSPRNG (`os.urandom`, as `secrets` uses), read and encoded
a few hundred ids' worth at a time rather than with a system call and a 26-step loop per id; the
time part is encoded once per millisecond.
"""

from __future__ import annotations

import os
import time
from collections import deque

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Each random byte becomes one character by its low five bits: 256 is 8 × 32, so every
# character is uniform and independent, and the 16 characters carry the ULID's 80 random bits.
# One `bytes.translate` encodes hundreds of ids.
_BYTE_TO_CHAR = bytes(_ALPHABET[b & 31].encode("ascii")[0] for b in range(256))
_RANDOM_CHARS = 16
_IDS_PER_READ = 256

# Random parts not yet handed out. A deque because popleft is atomic: threads calling `new_id`
# at once never get the same part, without a lock.
_pool: deque[str] = deque()
_time_part: tuple[int, str] = (-1, "")


def _refill() -> None:
    text = os.urandom(_RANDOM_CHARS * _IDS_PER_READ).translate(_BYTE_TO_CHAR).decode("ascii")
    _pool.extend(text[i : i + _RANDOM_CHARS] for i in range(0, len(text), _RANDOM_CHARS))


def _forget_pool() -> None:
    # A forked child starts with a copy of the parent's pool: both would hand out the same
    # "random" ids. The child reads its own.
    _pool.clear()


os.register_at_fork(after_in_child=_forget_pool)


def _encode_time(millis: int) -> str:
    chars = []
    for _ in range(10):
        chars.append(_ALPHABET[millis & 31])
        millis >>= 5
    return "".join(reversed(chars))


def new_id() -> str:
    """A new 26-character ULID."""
    global _time_part  # noqa: PLW0603 - a one-entry cache; replaced whole, so threads are safe
    while True:
        try:
            random = _pool.popleft()
            break
        except IndexError:  # other threads may empty a fresh pool first: then read again
            _refill()
    millis = time.time_ns() // 1_000_000
    cached = _time_part
    if cached[0] != millis:
        cached = _time_part = (millis, _encode_time(millis))
    return cached[1] + random


def is_id(text: str) -> bool:
    return len(text) == 26 and all(c in _ALPHABET for c in text)
