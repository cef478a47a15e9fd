"""The per-route token bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ozgbridge.ops import bucket

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_a_new_bucket_is_full_with_one_seconds_worth() -> None:
    assert bucket.refill(None, rate=5, now=NOW) == bucket.Bucket(5, NOW)
    assert bucket.refill(None, rate=0.5, now=NOW) == bucket.Bucket(1, NOW)  # at least one


def test_refill_by_elapsed_time_never_beyond_capacity() -> None:
    empty = bucket.Bucket(0, NOW)

    half = bucket.refill(empty, rate=2, now=NOW + timedelta(milliseconds=250))
    full = bucket.refill(empty, rate=2, now=NOW + timedelta(seconds=60))

    assert half.tokens == pytest.approx(0.5)
    assert bucket.available(half) == 0
    assert full.tokens == 2


def test_take_and_next_token() -> None:
    taken = bucket.take(bucket.Bucket(2.5, NOW), 2)

    assert taken.tokens == pytest.approx(0.5)
    assert bucket.next_token_at(taken, rate=2) == NOW + timedelta(seconds=0.25)
    with pytest.raises(ValueError, match="cannot take"):
        bucket.take(taken, 1)


def test_float_dust_still_counts_as_a_token() -> None:
    assert bucket.available(bucket.Bucket(0.9999999999, NOW)) == 1
