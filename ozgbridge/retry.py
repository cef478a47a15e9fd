"""The retry ladder: when to try a failed delivery again, and when to give up.

The default is the Standard Webhooks schedule — immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
14 h, 20 h, 24 h — ten attempts over about three days. ``schedule[n]`` is the wait before attempt
``n + 1``; a route may bring its own. Each wait gets ±jitter so a back-end coming back after an
outage is not hit by every queued delivery in the same second.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_RETRY_AFTER = 86400.0


def next_delay(
    schedule: Sequence[float],
    attempts_made: int,
    *,
    retry_after: float | None = None,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before the next attempt, or None when the ladder is exhausted.

    ``retry_after`` (the back-end's Retry-After) is honoured as a lower bound, capped at a day so a
    misconfigured back-end cannot park a delivery for months; it never adds attempts.
    """
    if attempts_made >= len(schedule):
        return None
    delay = float(schedule[attempts_made])
    if jitter and delay:
        delay *= (rng or random).uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
