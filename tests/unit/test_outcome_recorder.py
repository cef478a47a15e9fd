"""Writing an outcome: a failed write is retried for up to a lease, then given up (logged)."""

from __future__ import annotations

from typing import Any, cast

import structlog
from structlog.testing import capture_logs

from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.outcome_recorder import OutcomeRecorder
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult, ClaimedDelivery

CLAIMED = ClaimedDelivery(
    id="D", application_id="A", tenant_id="t", route_id="r", connector="http",
    attempt=1, lease_expires_at=utcnow(), rung=1,
)  # fmt: skip
DELIVERED = AttemptResult(AttemptOutcome.DELIVERED, utcnow(), 200)


class Queue:
    """Fails the first ``failures`` writes, then answers ``ours``."""

    def __init__(self, failures: int, ours: bool = True) -> None:
        self.failures = failures
        self.ours = ours
        self.calls: list[dict[str, Any]] = []

    async def record(self, claimed: ClaimedDelivery, worker_id: str, result: AttemptResult,
                     *, last: bool = False) -> bool:  # fmt: skip
        self.calls.append({"worker": worker_id, "last": last})
        if len(self.calls) <= self.failures:
            raise ConnectionError("database away")
        return self.ours


def recorder(queue: Queue, lease_seconds: float = 30) -> OutcomeRecorder:
    return OutcomeRecorder(cast(DeliveryQueue, queue), worker_id="w", lease_seconds=lease_seconds)


async def test_a_failed_write_is_retried_until_it_lands() -> None:
    queue = Queue(failures=1)
    with capture_logs() as logs:
        await recorder(queue).record(CLAIMED, DELIVERED, structlog.get_logger(), last=True)
    assert [c["last"] for c in queue.calls] == [True, False]
    assert [e["event"] for e in logs] == ["delivery.attempt", "delivery.delivered"]


async def test_a_write_that_never_lands_is_given_up_after_a_lease() -> None:
    queue = Queue(failures=1000)
    with capture_logs() as logs:
        await recorder(queue, lease_seconds=0.5).record(CLAIMED, DELIVERED, structlog.get_logger())
    assert 2 <= len(queue.calls) < 10
    assert [e["event"] for e in logs] == ["delivery.record_failed"]


async def test_an_outcome_of_a_lost_lease_is_logged_as_such() -> None:
    with capture_logs() as logs:
        await recorder(Queue(0, ours=False)).record(CLAIMED, DELIVERED, structlog.get_logger())
    assert [(e["event"], e.get("lease")) for e in logs] == [("delivery.attempt", "lost")]
