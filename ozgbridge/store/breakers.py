"""Feeding attempt outcomes to each route's circuit breaker, inside the outcome transaction.

The rows of the routes in a batch are locked (in key order) and every outcome is applied in the
order reported, so the breaker sees the same sequence whichever worker reported what. Transitions
operators would notice (active → open, half-open → open or active) become rows in
``route_transitions`` and audit events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge import audit
from ozgbridge.domain import AttemptOutcome
from ozgbridge.ops.admission import DEFAULT_POLICY, RouteKey, RoutePolicy, RouteRuntime
from ozgbridge.ops.breaker import BreakerState, Verdict, after_attempt
from ozgbridge.store import route_state
from ozgbridge.store.records import AttemptResult, ClaimedDelivery

_ACTIONS = {
    BreakerState.OPEN: "route.breaker_opened",
    BreakerState.HALF_OPEN: "route.breaker_half_open",
    BreakerState.CLOSED: "route.breaker_closed",
}


def verdict_of(result: AttemptResult) -> Verdict:
    if not result.evidence:
        return Verdict.NEUTRAL
    if result.outcome == AttemptOutcome.DELIVERED:
        return Verdict.SUCCESS
    if result.outcome == AttemptOutcome.RETRIABLE:
        return Verdict.FAILURE
    return Verdict.NEUTRAL


def _reason(before: RouteRuntime, after: RouteRuntime, result: AttemptResult) -> str:
    cause = result.error or f"outcome {result.outcome}"
    if after.breaker.state is BreakerState.OPEN:
        seconds = f"{after.breaker.cooldown or 0:g}"
        if before.breaker.state is BreakerState.HALF_OPEN:
            return f"probe failed ({cause}); open for {seconds} s"
        return (
            f"{after.breaker.failures} consecutive retriable failures (last: {cause}); "
            f"open for {seconds} s"
        )
    return "a delivery succeeded"


def _observed(runtime: RouteRuntime, result: AttemptResult, verdict: Verdict) -> RouteRuntime:
    at = result.started_at
    if verdict is Verdict.SUCCESS:
        return replace(runtime, last_success_at=max(at, runtime.last_success_at or at))
    if result.evidence and result.outcome != AttemptOutcome.DELIVERED:
        return replace(runtime, last_failure_at=max(at, runtime.last_failure_at or at))
    return runtime


async def update_breakers(
    conn: AsyncConnection,
    items: Sequence[tuple[ClaimedDelivery, str, AttemptResult]],
    policies: Mapping[RouteKey, RoutePolicy],
    now: datetime,
) -> list[audit.AuditEvent]:
    keys = sorted({(c.tenant_id, c.route_id) for c, _w, _r in items})
    runtimes = await route_state.lock(conn, keys, now)
    changed: dict[RouteKey, RouteRuntime] = {}
    transitions: list[route_state.Transition] = []
    for claimed, worker_id, result in items:
        key = (claimed.tenant_id, claimed.route_id)
        before = changed.get(key, runtimes[key])
        verdict = verdict_of(result)
        breaker = after_attempt(
            before.breaker,
            verdict,
            delivery_id=claimed.id,
            config=policies.get(key, DEFAULT_POLICY).breaker,
            now=now,
        )
        after = _observed(replace(before, breaker=breaker), result, verdict)
        if after == before:
            continue
        changed[key] = after
        change = route_state.transition(
            key,
            before,
            after,
            reason=_reason(before, after, result),
            actor=f"worker:{worker_id}",
            action=_ACTIONS[after.breaker.state],
        )
        if change is not None:
            transitions.append(change)
    await route_state.save(conn, changed, now)
    return await route_state.record_transitions(conn, transitions, now)
