"""A token bucket per route: ``rate`` attempts per second, bursts of at most ``capacity``.

The bucket lives in the database (``route_states.tokens``/``tokens_at``) so the limit holds across
every worker process; these functions only compute. Capacity is one second's worth (at least one
token), so a route limited to 2/s never sees more than 2 attempts start within any second plus
the steady flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: datetime


def capacity(rate: float) -> float:
    return max(1.0, rate)


def refill(bucket: Bucket | None, *, rate: float, now: datetime) -> Bucket:
    """The bucket at ``now``: full when new, else topped up by the time passed (never beyond)."""
    cap = capacity(rate)
    if bucket is None:
        return Bucket(cap, now)
    elapsed = max(0.0, (now - bucket.at).total_seconds())
    return Bucket(min(cap, bucket.tokens + elapsed * rate), now)


def available(bucket: Bucket) -> int:
    # A hair of tolerance: 0.9999999 tokens after float arithmetic is one token.
    return math.floor(bucket.tokens + 1e-9)


def take(bucket: Bucket, count: int) -> Bucket:
    if count > available(bucket):
        raise ValueError(f"cannot take {count} tokens from {bucket.tokens:.3f}")
    return Bucket(max(0.0, bucket.tokens - count), bucket.at)


def next_token_at(bucket: Bucket, *, rate: float) -> datetime:
    """When the bucket next holds a whole token (``bucket.at`` if it holds one already)."""
    missing = 1.0 - bucket.tokens
    if missing <= 1e-9:
        return bucket.at
    return bucket.at + timedelta(seconds=missing / rate)
