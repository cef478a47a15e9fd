"""When an outcome batch must lock and write its route's row (store/breakers.py, pure parts)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ozgbridge.domain import AttemptOutcome
from ozgbridge.ops.admission import RouteRuntime
from ozgbridge.ops.breaker import Breaker, BreakerState
from ozgbridge.store.breakers import LAST_SUCCESS_RESOLUTION, apply_outcomes, worth_writing
from ozgbridge.store.records import AttemptResult, ClaimedDelivery

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
KEY = ("erkelenz", "gewerbe")


def item(outcome: AttemptOutcome, at: datetime = NOW) -> tuple[ClaimedDelivery, str, AttemptResult]:
    claimed = ClaimedDelivery(
        id="d1", application_id="a1", tenant_id=KEY[0], route_id=KEY[1], connector="http",
        attempt=1, lease_expires_at=NOW, rung=1, probe=False,
    )  # fmt: skip
    retry = None if outcome == AttemptOutcome.DELIVERED else NOW + timedelta(minutes=1)
    return claimed, "w", AttemptResult(outcome, at, status_code=200, retry_at=retry)


def test_successes_on_a_healthy_route_with_a_fresh_last_success_write_nothing() -> None:
    stored = RouteRuntime(last_success_at=NOW - timedelta(milliseconds=200))
    changed, transitions = apply_outcomes([item(AttemptOutcome.DELIVERED)], {KEY: stored}, {}, NOW)
    assert transitions == []
    assert not worth_writing(stored, changed[KEY])


def test_a_stale_last_success_is_written() -> None:
    stored = RouteRuntime(last_success_at=NOW - LAST_SUCCESS_RESOLUTION)
    changed, _ = apply_outcomes([item(AttemptOutcome.DELIVERED)], {KEY: stored}, {}, NOW)
    assert worth_writing(stored, changed[KEY])
    assert worth_writing(RouteRuntime(), replace(RouteRuntime(), last_success_at=NOW))


def test_a_failure_or_a_success_after_failures_is_written() -> None:
    fresh = RouteRuntime(last_success_at=NOW)
    changed, _ = apply_outcomes([item(AttemptOutcome.RETRIABLE)], {KEY: fresh}, {}, NOW)
    assert worth_writing(fresh, changed[KEY])  # the failure counts

    failing = RouteRuntime(breaker=Breaker(failures=2), last_success_at=NOW)
    changed, _ = apply_outcomes([item(AttemptOutcome.DELIVERED)], {KEY: failing}, {}, NOW)
    assert changed[KEY].breaker.failures == 0
    assert worth_writing(failing, changed[KEY])  # the count goes back to zero


def test_a_success_that_closes_an_open_breaker_is_a_transition() -> None:
    opened = RouteRuntime(
        breaker=Breaker(state=BreakerState.OPEN, failures=5, cooldown=30, open_until=NOW),
        last_success_at=NOW,
    )
    changed, transitions = apply_outcomes([item(AttemptOutcome.DELIVERED)], {KEY: opened}, {}, NOW)
    assert changed[KEY].breaker.state is BreakerState.CLOSED
    assert transitions
