"""Writing an attempt's outcome, as the worker does once the connector has answered.

The back-end already has its answer, so a failed write is retried for up to a lease (after that
the lease runs out and the delivery is attempted again: at-least-once holds). Once written, the
attempt is counted and logged under stable event names (``delivery.attempt``, ``.delivered``,
``.retry_scheduled``, ``.probe_failed``, ``.dead``), without personal data.
"""

from __future__ import annotations

from typing import Any

from ozgbridge import metrics
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.lease_keeper import within_the_lease
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult, ClaimedDelivery


class OutcomeRecorder:
    def __init__(self, queue: DeliveryQueue, *, worker_id: str, lease_seconds: float) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds

    async def record(
        self, claimed: ClaimedDelivery, result: AttemptResult, log: Any, *, last: bool = False
    ) -> None:
        """Store the outcome (``last``: no other attempt of this worker is running)."""
        ours: bool | None
        try:
            ours = await self.queue.record(claimed, self.worker_id, result, last=last)
        except Exception:
            ours = await self._retrying(claimed, result, log)
        if ours is not None:
            recorded(claimed, result, log, ours=ours)

    async def _retrying(
        self, claimed: ClaimedDelivery, result: AttemptResult, log: Any
    ) -> bool | None:
        """The first write failed: try again for up to a lease; None if it never succeeded."""
        try:
            return await within_the_lease(
                lambda: self.queue.record(claimed, self.worker_id, result),
                lease_seconds=self.lease_seconds,
            )
        except Exception:
            log.exception("delivery.record_failed", outcome=str(result.outcome))
        return None


def recorded(claimed: ClaimedDelivery, result: AttemptResult, log: Any, *, ours: bool) -> None:
    """Count and log an outcome that is written (``ours``: the lease was still this worker's)."""
    metrics.DELIVERY_ATTEMPTS.labels(
        claimed.tenant_id, claimed.route_id, claimed.connector, str(result.outcome)
    ).inc()
    fields: dict[str, Any] = {
        "outcome": str(result.outcome),
        "status_code": result.status_code,
        "duration_ms": round((utcnow() - result.started_at).total_seconds() * 1000, 1),
    }
    if not ours:
        log.warning("delivery.attempt", **fields, lease="lost")
        return
    log.info("delivery.attempt", **fields, error=result.error)
    if result.outcome == AttemptOutcome.DELIVERED:
        log.info("delivery.delivered", remote_reference=result.remote_reference)
    elif result.keeps_rung:
        log.info("delivery.probe_failed")
    elif result.retry_at is None:
        log.warning("delivery.dead", error=result.error)
    else:
        log.info("delivery.retry_scheduled", retry_at=result.retry_at.isoformat())
