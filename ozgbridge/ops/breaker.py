"""The per-route circuit breaker, as pure transitions: a state and an event in, a state out.

Closed: attempts flow; ``failures`` consecutive retriable failures open it. Open: nothing is
attempted until ``open_until``; then the next claim lets exactly one probe through (half-open).
The probe's success closes the breaker, its retriable failure re-opens it for twice the cool-down
(up to ``max_cooldown``). Permanent errors (4xx) say nothing about whether the back-end is up: they
neither count nor reset, and a probe that ends in one simply frees the probe slot.

Attempts already in flight when the breaker opens still report: a success closes it (the back-end
answered), a failure leaves it open without extending the cool-down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ozgbridge.tenant_models import BreakerConfig


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Verdict(StrEnum):
    """What one attempt says about the back-end."""

    SUCCESS = "success"  # delivered
    FAILURE = "failure"  # retriable: 5xx, 429, timeouts, connection errors
    NEUTRAL = "neutral"  # permanent (4xx) or no real answer (lease lost): no evidence


@dataclass(frozen=True)
class Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # consecutive retriable failures
    cooldown: float | None = None  # length of the current (or last) open period, seconds
    open_until: datetime | None = None
    probe: str | None = None  # the delivery let through while half-open


def _open(breaker: Breaker, cooldown: float, now: datetime) -> Breaker:
    return replace(
        breaker,
        state=BreakerState.OPEN,
        cooldown=cooldown,
        open_until=now + timedelta(seconds=cooldown),
        probe=None,
    )


def _closed(breaker: Breaker) -> Breaker:
    return Breaker(state=BreakerState.CLOSED, failures=0)


def after_attempt(
    breaker: Breaker,
    verdict: Verdict,
    *,
    delivery_id: str,
    config: BreakerConfig,
    now: datetime,
) -> Breaker:
    """The breaker once the attempt of ``delivery_id`` reported ``verdict``."""
    is_probe = breaker.state is BreakerState.HALF_OPEN and breaker.probe == delivery_id
    if verdict is Verdict.SUCCESS:
        return _closed(breaker)
    if verdict is Verdict.NEUTRAL:
        return replace(breaker, probe=None) if is_probe else breaker
    failures = breaker.failures + 1
    if breaker.state is BreakerState.CLOSED:
        if failures >= config.failures:
            return _open(replace(breaker, failures=failures), config.cooldown, now)
        return replace(breaker, failures=failures)
    if is_probe:
        previous = breaker.cooldown or config.cooldown
        return _open(
            replace(breaker, failures=failures), min(previous * 2, config.max_cooldown), now
        )
    # A straggler from before the breaker opened, or a non-probe while half-open: count it, but
    # only the probe decides.
    return replace(breaker, failures=failures)


class Admission(StrEnum):
    ALL = "all"  # claim freely (within the route's other limits)
    PROBE = "probe"  # claim exactly one delivery, as the probe
    NONE = "none"  # claim nothing


def admission(breaker: Breaker, *, now: datetime, probe_alive: bool) -> Admission:
    """What claims may take from this route now.

    ``probe_alive``: the half-open probe's delivery is still held under an unexpired lease. A probe
    whose worker died (lease ran out) no longer blocks; a new probe may go.
    """
    if breaker.state is BreakerState.CLOSED:
        return Admission.ALL
    if breaker.state is BreakerState.OPEN:
        due = breaker.open_until is None or breaker.open_until <= now
        return Admission.PROBE if due else Admission.NONE
    if breaker.probe is not None and probe_alive:
        return Admission.NONE
    return Admission.PROBE


def start_probe(breaker: Breaker, delivery_id: str) -> Breaker:
    """The breaker after a claim took ``delivery_id`` as its probe."""
    return replace(breaker, state=BreakerState.HALF_OPEN, probe=delivery_id)
