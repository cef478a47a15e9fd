"""The pure decision of what a failed attempt leaves behind (worker-independent)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from ozgbridge.attempt_failures import failure_result
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.store.records import AttemptResult, ClaimedDelivery

NOW = utcnow()
SCHEDULE = (10.0, 60.0, 600.0)


def claimed(rung: int = 1, *, probe: bool = False) -> ClaimedDelivery:
    return ClaimedDelivery(
        id="D", application_id="A", tenant_id="t", route_id="r", connector="http",
        attempt=rung, lease_expires_at=NOW, rung=rung, probe=probe,
    )  # fmt: skip


def decide(delivery: ClaimedDelivery, error: DeliveryError, jitter: float = 0.0) -> AttemptResult:
    return failure_result(
        delivery,
        error,
        started_at=NOW,
        now=NOW,
        schedule=SCHEDULE,
        jitter=jitter,
        rng=random.Random(1),
    )


def test_a_permanent_error_is_dead_at_once_even_for_a_probe() -> None:
    for probe in (False, True):
        result = decide(claimed(probe=probe), PermanentDeliveryError("HTTP 400", status_code=400))
        assert (result.outcome, result.retry_at, result.status_code) == (
            AttemptOutcome.PERMANENT, None, 400,
        )  # fmt: skip


@pytest.mark.parametrize(("rung", "wait"), [(0, 10.0), (1, 60.0), (2, 600.0)])
def test_a_retriable_error_takes_the_next_rung(rung: int, wait: float) -> None:
    result = decide(claimed(rung), RetriableDeliveryError("HTTP 503", status_code=503))
    assert result.outcome == AttemptOutcome.RETRIABLE
    assert result.retry_at == NOW + timedelta(seconds=wait)
    assert not result.keeps_rung


def test_an_exhausted_ladder_is_dead_and_says_so() -> None:
    result = decide(claimed(3), RetriableDeliveryError("HTTP 503", status_code=503))
    assert result.retry_at is None
    assert result.error == "HTTP 503 (gave up after 3 attempts)"


def test_retry_after_is_a_lower_bound() -> None:
    error = RetriableDeliveryError("HTTP 429", status_code=429, retry_after=300)
    result = decide(claimed(0), error)
    assert result.retry_at == NOW + timedelta(seconds=300)


def test_a_failed_probe_waits_on_the_route_not_on_the_ladder() -> None:
    result = decide(claimed(3, probe=True), RetriableDeliveryError("timeout"))
    assert result.retry_at == NOW
    assert result.keeps_rung


def test_detail_and_excerpt_are_cut_to_their_columns() -> None:
    error = RetriableDeliveryError("x" * 800, status_code=502, response_excerpt="y" * 5000)
    result = decide(claimed(1), error)
    assert len(result.error) == 500
    assert len(result.response_excerpt) == 1024
