"""How many deliveries a claim may take from a route: pause, breaker, max_in_flight, rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ozgbridge.domain import RouteState
from ozgbridge.ops.admission import (
    DEFAULT_POLICY,
    Quota,
    RoutePolicy,
    RouteRuntime,
    after_claim,
    display_state,
    quota,
)
from ozgbridge.ops.breaker import Breaker, BreakerState
from ozgbridge.ops.bucket import Bucket
from ozgbridge.tenant_models import BreakerConfig

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OPEN = Breaker(BreakerState.OPEN, 5, 30, NOW + timedelta(seconds=30))


def q(
    runtime: RouteRuntime,
    policy: RoutePolicy = DEFAULT_POLICY,
    *,
    free: int = 10,
    in_flight: int = 0,
    now: datetime = NOW,
) -> Quota:
    return quota(runtime, policy, free=free, in_flight=in_flight, probe_alive=False, now=now)


def test_plain_route_takes_every_free_slot() -> None:
    granted = quota(RouteRuntime(), RoutePolicy(), free=7, in_flight=0, probe_alive=False, now=NOW)
    assert (granted.count, granted.probe) == (7, False)


def test_paused_route_takes_nothing_whatever_its_breaker() -> None:
    assert q(RouteRuntime(paused=True)).count == 0
    assert q(RouteRuntime(paused=True, breaker=OPEN)).count == 0


def test_open_route_waits_for_the_cool_down_then_takes_one_probe() -> None:
    waiting = q(RouteRuntime(breaker=OPEN))
    probing = q(RouteRuntime(breaker=OPEN), now=NOW + timedelta(seconds=31))

    assert (waiting.count, waiting.wake_at) == (0, OPEN.open_until)
    assert (probing.count, probing.probe) == (1, True)


def test_max_in_flight_counts_what_runs_elsewhere() -> None:
    policy = RoutePolicy(max_in_flight=3)

    assert q(RouteRuntime(), policy, in_flight=1).count == 2
    assert q(RouteRuntime(), policy, in_flight=3).count == 0
    assert q(RouteRuntime(), policy, in_flight=1, free=1).count == 1


def test_rate_limit_spends_tokens_and_says_when_the_next_comes() -> None:
    policy = RoutePolicy(rate_limit=2)
    fresh = q(RouteRuntime(), policy)
    spent = RouteRuntime(bucket=Bucket(0.5, NOW))
    empty = q(spent, policy)

    assert fresh.count == 2
    assert empty.count == 0
    assert empty.wake_at == NOW + timedelta(seconds=0.25)


def test_after_claim_takes_tokens_and_marks_the_probe() -> None:
    policy = RoutePolicy(rate_limit=2)
    runtime = RouteRuntime(breaker=OPEN)
    later = NOW + timedelta(seconds=31)
    granted = quota(runtime, policy, free=10, in_flight=0, probe_alive=False, now=later)

    after = after_claim(runtime, policy, granted, ["probe-id"], now=later)

    assert after.breaker.state is BreakerState.HALF_OPEN
    assert after.breaker.probe == "probe-id"
    assert after.bucket is not None
    assert after.bucket.tokens == 1


def test_display_state() -> None:
    assert display_state(RouteRuntime()) is RouteState.ACTIVE
    assert display_state(RouteRuntime(breaker=OPEN)) is RouteState.OPEN
    assert display_state(RouteRuntime(paused=True, breaker=OPEN)) is RouteState.PAUSED
    half = Breaker(BreakerState.HALF_OPEN, probe="x")
    assert display_state(RouteRuntime(breaker=half)) is RouteState.HALF_OPEN


def test_policy_of_a_route_config() -> None:
    config = BreakerConfig(failures=2)
    policy = RoutePolicy(config, max_in_flight=1)
    assert policy.limited
    assert not RoutePolicy().limited
