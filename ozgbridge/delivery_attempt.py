"""One delivery attempt: the route's connector called once, and its answer as an `AttemptResult`.

The answer decides what comes next: delivered; retriable → pending again at the next rung of the
route's retry ladder; permanent or ladder exhausted → dead (visible, replayable) — the decision
is `ozgbridge.attempt_failures`'. The connector and the retry ladder are those of the
configuration the delivery was claimed with (its `Runtime`), however often the configuration is
reloaded meanwhile. What surrounds an attempt — its lease, its share of the payload budget,
recording the outcome — is the worker's (`ozgbridge.worker`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from ozgbridge import metrics
from ozgbridge.attempt_failures import failure_result
from ozgbridge.domain import AttemptOutcome, Envelope, utcnow
from ozgbridge.errors import DeliveryError, RetriableDeliveryError
from ozgbridge.retry import DEFAULT_SCHEDULE
from ozgbridge.runtime import Runtime
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import RouteConfig


async def attempt_delivery(
    claimed: ClaimedDelivery,
    started_at: datetime,
    envelope: Envelope | None,
    runtime: Runtime,
    *,
    repository: Repository,
    jitter: float,
) -> AttemptResult:
    """``envelope`` None: not loaded with the claimed batch, so loaded here from ``repository``."""
    route_key = (claimed.tenant_id, claimed.route_id)
    connector = runtime.connectors.get(route_key)
    if connector is None:
        error = RetriableDeliveryError(
            f"route {claimed.tenant_id}/{claimed.route_id} is not configured (any more)"
        )
        # says nothing about the back-end: the breaker ignores it
        return replace(_failure(claimed, started_at, error, runtime, jitter), evidence=False)
    clock = time.perf_counter()
    try:
        if envelope is None:
            envelope = await repository.load_envelope(
                claimed, tenant_name=runtime.tenant_names[claimed.tenant_id]
            )
        receipt = await connector.deliver(envelope)
    except DeliveryError as error:
        metrics.ATTEMPT_DURATION.labels(claimed.connector).observe(time.perf_counter() - clock)
        return _failure(claimed, started_at, error, runtime, jitter)
    metrics.ATTEMPT_DURATION.labels(claimed.connector).observe(time.perf_counter() - clock)
    return AttemptResult(
        AttemptOutcome.DELIVERED,
        started_at,
        status_code=receipt.status_code,
        remote_reference=receipt.remote_reference,
        status_report=receipt.status_report,
    )


def _failure(
    claimed: ClaimedDelivery,
    started_at: datetime,
    error: DeliveryError,
    runtime: Runtime,
    jitter: float,
) -> AttemptResult:
    route = _route(claimed, runtime)
    return failure_result(
        claimed,
        error,
        started_at=started_at,
        now=utcnow(),
        schedule=route.retry_schedule if route and route.retry_schedule else DEFAULT_SCHEDULE,
        jitter=jitter,
    )


def _route(claimed: ClaimedDelivery, runtime: Runtime) -> RouteConfig | None:
    try:
        return runtime.deployment.route(claimed.tenant_id, claimed.route_id)
    except KeyError:
        return None
