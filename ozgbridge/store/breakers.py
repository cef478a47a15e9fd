"""Feeding attempt outcomes to each route's circuit breaker, inside the outcome transaction.

The rows of the routes in a batch are locked (in key order) and every outcome is applied in the
order reported, so the breaker sees the same sequence whichever worker reported what. Transitions
operators would notice (active → open, half-open → open or active) become rows in
``route_transitions`` and audit events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

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


# How stale a route's "last success" may be before a success is worth a locked write of its row.
LAST_SUCCESS_RESOLUTION = timedelta(seconds=1)


def apply_outcomes(
    items: Sequence[tuple[ClaimedDelivery, str, AttemptResult]],
    runtimes: Mapping[RouteKey, RouteRuntime],
    policies: Mapping[RouteKey, RoutePolicy],
    now: datetime,
) -> tuple[dict[RouteKey, RouteRuntime], list[route_state.Transition]]:
    """The routes' runtimes after the batch's outcomes, in the order reported (pure)."""
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
    return changed, transitions


def worth_writing(before: RouteRuntime, after: RouteRuntime) -> bool:
    """Whether ``after`` differs from the stored ``before`` by more than a fresher "last
    success" within `LAST_SUCCESS_RESOLUTION` (pure)."""
    if replace(after, last_success_at=before.last_success_at) != before:
        return True
    if before.last_success_at is None or after.last_success_at is None:
        return before.last_success_at != after.last_success_at
    return after.last_success_at - before.last_success_at >= LAST_SUCCESS_RESOLUTION


async def update_breakers(
    conn: AsyncConnection,
    items: Sequence[tuple[ClaimedDelivery, str, AttemptResult]],
    policies: Mapping[RouteKey, RoutePolicy],
    now: datetime,
) -> list[audit.AuditEvent]:
    """Apply the batch to the routes' breakers; lock and write their rows only if it matters.

    Most batches are successes on a healthy route: they change nothing but the route's "last
    success" time. Locking the route's row for that would serialise every worker's outcome
    transactions on it until they commit, so such a batch only reads the row and leaves it,
    unless its "last success" is older than `LAST_SUCCESS_RESOLUTION`. A failure racing with an
    unlocked read at worst keeps its count until the next success that is written.
    """
    keys = sorted({(c.tenant_id, c.route_id) for c, _w, _r in items})
    stored = await route_state.load(conn, keys)
    if len(stored) == len(keys):
        changed, transitions = apply_outcomes(items, stored, policies, now)
        if not transitions and not any(worth_writing(stored[k], v) for k, v in changed.items()):
            return []
    runtimes = await route_state.lock(conn, keys, now)
    changed, transitions = apply_outcomes(items, runtimes, policies, now)
    await route_state.save(conn, changed, now)
    return await route_state.record_transitions(conn, transitions, now)
