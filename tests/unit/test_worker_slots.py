"""How many deliveries the worker may claim next (the pure part of its slot accounting)."""

from __future__ import annotations

import pytest

from ozgbridge.worker import free_slots


@pytest.mark.parametrize(
    ("attempting", "in_flight", "free"),
    [
        (0, 0, 64),  # idle
        (64, 64, 0),  # every slot attempting
        (10, 64, 0),  # writes keep their slots while any attempt runs
        (10, 30, 34),
        (0, 64, 64),  # none attempting: a round of writes holds nothing back
        (0, 100, 28),  # more than a round being written: the excess holds slots
        (0, 128, 0),
        (64, 128, -64),  # a new round attempting beside a round being written
    ],
)
def test_free_slots(attempting: int, in_flight: int, free: int) -> None:
    assert free_slots(64, attempting=attempting, in_flight=in_flight) == free
