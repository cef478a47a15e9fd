from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from ozgbridge import ids
from ozgbridge.ids import is_id, new_id

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _millis(ulid: str) -> int:
    value = 0
    for char in ulid[:10]:
        value = value * 32 + _ALPHABET.index(char)
    return value


def test_an_id_is_a_ulid_of_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    assert is_id(made)
    assert made[0] in "01234567"  # 130 bits in 26 characters: the top two are zero
    assert before <= _millis(made) <= after


def test_ids_of_later_milliseconds_sort_after_earlier_ones() -> None:
    first = new_id()
    time.sleep(0.002)
    assert new_id() > first


def test_every_random_character_takes_every_value() -> None:
    # 80 random bits: 16 characters, each uniform over all 32 (a lost bit leaves values out).
    made = [new_id()[10:] for _ in range(20_000)]
    for position in range(16):
        seen = Counter(part[position] for part in made)
        assert set(seen) == set(_ALPHABET)
        assert min(seen.values()) > 20_000 / 32 / 2


def test_threads_never_share_a_random_part() -> None:
    made: list[str] = []

    def take() -> None:
        made.extend(new_id()[10:] for _ in range(2_000))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == len(made) == 16_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_draws_other_random_parts_than_its_parent() -> None:
    new_id()  # the pool now holds what the parent hands out next
    assert ids._pool
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        os.write(write_end, "".join(new_id()[10:] for _ in range(4)).encode("ascii"))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode("ascii")
    os.waitpid(pid, 0)
    parent = "".join(new_id()[10:] for _ in range(4))
    assert len(child) == len(parent) == 64
    assert child != parent
