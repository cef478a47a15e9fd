from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ozgbridge.retry import DEFAULT_SCHEDULE, MAX_RETRY_AFTER, next_delay


def test_default_ladder_is_the_standard_webhooks_schedule() -> None:
    hours = 3600
    assert (
        0, 5, 5 * 60, 30 * 60, 2 * hours, 5 * hours, 10 * hours, 14 * hours, 20 * hours, 24 * hours
    ) == DEFAULT_SCHEDULE  # fmt: skip


@pytest.mark.parametrize(("made", "expected"), [(1, 5), (2, 300), (9, 86400)])
def test_rungs_without_jitter(made: int, expected: float) -> None:
    assert next_delay(DEFAULT_SCHEDULE, made, jitter=0) == expected


def test_exhausted_ladder_gives_up() -> None:
    assert next_delay(DEFAULT_SCHEDULE, 10) is None
    assert next_delay([0, 5, 300], 3) is None
    assert next_delay([0, 5, 300], 2, jitter=0) == 300


@given(made=st.integers(1, 9), seed=st.integers())
def test_jitter_stays_within_ten_percent(made: int, seed: int) -> None:
    base = DEFAULT_SCHEDULE[made]
    delay = next_delay(DEFAULT_SCHEDULE, made, jitter=0.1, rng=random.Random(seed))
    assert delay is not None
    assert base * 0.9 <= delay <= base * 1.1


def test_jitter_actually_varies() -> None:
    rng = random.Random(1)
    delays = {next_delay(DEFAULT_SCHEDULE, 2, rng=rng) for _ in range(20)}
    assert len(delays) > 10


def test_retry_after_is_a_lower_bound_capped_at_a_day() -> None:
    assert next_delay(DEFAULT_SCHEDULE, 1, retry_after=120, jitter=0) == 120
    assert next_delay(DEFAULT_SCHEDULE, 2, retry_after=1, jitter=0) == 300
    assert next_delay(DEFAULT_SCHEDULE, 1, retry_after=10**9, jitter=0) == MAX_RETRY_AFTER
    assert next_delay(DEFAULT_SCHEDULE, 10, retry_after=5) is None
