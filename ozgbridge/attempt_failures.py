"""What a failed attempt leaves behind: the pure decision, apart from the worker that records it.

- permanent error → dead at once;
- a breaker probe that fails → pending again at once, on the same rung (the breaker, re-opened by
  this very failure, holds the delivery back: the wait is the route's, not the delivery's);
- otherwise → the next rung of the route's retry ladder (Retry-After as a lower bound), or dead
  when the ladder is exhausted.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from ozgbridge.domain import AttemptOutcome
from ozgbridge.errors import DeliveryError, PermanentDeliveryError
from ozgbridge.retry import next_delay
from ozgbridge.store.records import AttemptResult, ClaimedDelivery

MAX_DETAIL = 500
MAX_EXCERPT = 1024


def failure_result(
    claimed: ClaimedDelivery,
    error: DeliveryError,
    *,
    started_at: datetime,
    now: datetime,
    schedule: Sequence[float],
    jitter: float,
    rng: random.Random | None = None,
) -> AttemptResult:
    detail = error.detail[:MAX_DETAIL]
    excerpt = error.response_excerpt[:MAX_EXCERPT] if error.response_excerpt else None
    if isinstance(error, PermanentDeliveryError):
        return AttemptResult(
            AttemptOutcome.PERMANENT,
            started_at,
            error.status_code,
            detail,
            response_excerpt=excerpt,
        )
    if claimed.probe:
        return AttemptResult(
            AttemptOutcome.RETRIABLE,
            started_at,
            error.status_code,
            detail,
            retry_at=now,
            keeps_rung=True,
            response_excerpt=excerpt,
        )
    delay = next_delay(
        schedule,
        claimed.rung,
        retry_after=getattr(error, "retry_after", None),
        jitter=jitter,
        rng=rng,
    )
    if delay is None:
        detail = f"{detail} (gave up after {claimed.rung} attempts)"[:MAX_DETAIL]
    return AttemptResult(
        AttemptOutcome.RETRIABLE,
        started_at,
        error.status_code,
        detail,
        retry_at=None if delay is None else now + timedelta(seconds=delay),
        response_excerpt=excerpt,
    )
