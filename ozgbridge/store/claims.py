"""One claim, inside one transaction: routes with something to decide first, then all others.

Routes that are active, closed and unlimited — normally all of them — are served by one set-based
statement over the partial index ``ix_deliveries_due``. Routes that are paused, whose breaker is
open or half-open, or that have ``max_in_flight`` / ``rate_limit`` are excluded from it and decided
one by one: their row in ``route_states`` is locked, `ozgbridge.ops.admission.quota` says how many
deliveries may go, and exactly that many are taken. Waiting on a paused or open route changes
nothing on the delivery: no attempt, no rung, no ladder time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    not_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge.domain import DeliveryState
from ozgbridge.ops.admission import (
    DEFAULT_POLICY,
    RouteKey,
    RoutePolicy,
    RouteRuntime,
    after_claim,
    quota,
)
from ozgbridge.ops.breaker import BreakerState
from ozgbridge.store import route_state
from ozgbridge.store.tables import UNFINISHED_SQL, deliveries

_UNFINISHED = text(UNFINISHED_SQL)  # literal, so the partial indexes apply
SYSTEM_BREAKER = "system:breaker"


@dataclass
class ClaimRun:
    """What one claim took, and what the worker should know for its next wait."""

    rows: list[Any] = field(default_factory=list)
    probes: set[str] = field(default_factory=set)
    blocked: set[RouteKey] = field(default_factory=set)  # due work here cannot go now
    wake_at: datetime | None = None  # the earliest moment a blocked route may open by itself
    events: list[Any] = field(default_factory=list)  # audit events of route transitions

    def wake(self, at: datetime | None) -> None:
        if at is not None and (self.wake_at is None or at < self.wake_at):
            self.wake_at = at


def sqlite_index(query: Select[Any], index: str) -> Select[Any]:
    """Have SQLite read the due deliveries through the partial index ``index``.

    Without statistics SQLite's planner prefers ``ix_deliveries_state_id`` for ``state IN (…)``
    and then sorts every unfinished delivery by due time for each claim: with a deep queue that
    sort was most of a claim's cost. PostgreSQL plans this from its statistics.
    """
    return query.with_hint(deliveries, f"INDEXED BY {index}", "sqlite")


def route_of(key: RouteKey) -> ColumnElement[bool]:
    return and_(deliveries.c.tenant_id == key[0], deliveries.c.route_id == key[1])


def not_in_routes(keys: set[RouteKey]) -> ColumnElement[bool] | None:
    if not keys:
        return None
    return not_(tuple_(deliveries.c.tenant_id, deliveries.c.route_id).in_(sorted(keys)))


async def claim(
    conn: AsyncConnection,
    worker_id: str,
    *,
    limit: int,
    lease_seconds: float,
    policies: Mapping[RouteKey, RoutePolicy],
    now: datetime,
) -> ClaimRun:
    run = ClaimRun()
    special_runtimes = await route_state.load_special(conn)
    special = set(special_runtimes) | {k for k, p in policies.items() if p.limited}
    for key in sorted(special):
        free = limit - len(run.rows)
        if free <= 0:
            break
        runtime = special_runtimes.get(key, RouteRuntime())
        if runtime.paused:
            run.blocked.add(key)
            continue
        breaker = runtime.breaker
        if breaker.state is BreakerState.OPEN and breaker.open_until and breaker.open_until > now:
            run.blocked.add(key)
            run.wake(breaker.open_until)
            continue
        if not await _has_due(conn, key, now):
            continue
        await _claim_route(
            conn,
            run,
            key,
            policy=policies.get(key, DEFAULT_POLICY),
            free=free,
            now=now,
            worker_id=worker_id,
            lease_seconds=lease_seconds,
        )
    free = limit - len(run.rows)
    if free > 0:
        run.rows += await _take(
            conn, worker_id, limit=free, lease_seconds=lease_seconds, now=now,
            condition=not_in_routes(special),
        )  # fmt: skip
    return run


async def _claim_route(
    conn: AsyncConnection,
    run: ClaimRun,
    key: RouteKey,
    *,
    policy: RoutePolicy,
    free: int,
    now: datetime,
    worker_id: str,
    lease_seconds: float,
) -> None:
    runtime = (await route_state.lock(conn, [key], now))[key]
    in_flight = await _in_flight(conn, key, now) if policy.max_in_flight is not None else 0
    probe = runtime.breaker.probe
    alive = probe is not None and await _lease_alive(conn, probe, now)
    granted = quota(runtime, policy, free=free, in_flight=in_flight, probe_alive=alive, now=now)
    if granted.count <= 0:
        run.blocked.add(key)
        run.wake(granted.wake_at)
        return
    rows = await _take(
        conn, worker_id, limit=granted.count, lease_seconds=lease_seconds, now=now,
        condition=route_of(key), index="ix_deliveries_route_due",
    )  # fmt: skip
    run.rows += rows
    if len(rows) >= granted.count:
        run.blocked.add(key)  # more may be due, but not now
        run.wake(granted.wake_at)
    updated = after_claim(runtime, policy, granted, [r.id for r in rows], now=now)
    if updated != runtime:
        await route_state.save(conn, {key: updated}, now)
    if granted.probe and rows:
        run.probes.add(rows[0].id)
        change = route_state.transition(
            key,
            runtime,
            updated,
            reason=f"cool-down over; delivery {rows[0].id} goes as the probe",
            actor=SYSTEM_BREAKER,
            action="route.breaker_half_open",
        )
        if change is not None:
            run.events += await route_state.record_transitions(conn, [change], now)


async def _has_due(conn: AsyncConnection, key: RouteKey, now: datetime) -> bool:
    query = select(exists().where(_UNFINISHED, route_of(key), deliveries.c.next_attempt_at <= now))
    return bool((await conn.execute(query)).scalar())


async def _in_flight(conn: AsyncConnection, key: RouteKey, now: datetime) -> int:
    """Attempts of this route running now, in any worker (an expired lease runs no more)."""
    query = (
        select(func.count())
        .select_from(deliveries)
        .where(
            _UNFINISHED,
            route_of(key),
            deliveries.c.state == DeliveryState.DELIVERING,
            deliveries.c.lease_expires_at > now,
        )
    )
    return int((await conn.execute(query)).scalar_one())


async def _lease_alive(conn: AsyncConnection, delivery_id: str, now: datetime) -> bool:
    query = select(
        exists().where(
            deliveries.c.id == delivery_id,
            deliveries.c.state == DeliveryState.DELIVERING,
            deliveries.c.lease_expires_at > now,
        )
    )
    return bool((await conn.execute(query)).scalar())


async def _take(
    conn: AsyncConnection,
    worker_id: str,
    *,
    limit: int,
    lease_seconds: float,
    now: datetime,
    condition: ColumnElement[bool] | None,
    index: str = "ix_deliveries_due",
) -> list[Any]:
    """Lease up to ``limit`` due deliveries matching ``condition``, oldest due first."""
    expires = now + timedelta(seconds=lease_seconds)
    due = select(
        deliveries.c.id,
        deliveries.c.state.label("prev_state"),
        deliveries.c.lease_owner.label("prev_owner"),
        deliveries.c.leased_at.label("prev_leased_at"),
    ).where(_UNFINISHED, deliveries.c.next_attempt_at <= now)
    if condition is not None:
        due = due.where(condition)
    due = sqlite_index(due, index).order_by(deliveries.c.next_attempt_at).limit(limit)
    lease = {
        "state": DeliveryState.DELIVERING,
        "attempts": deliveries.c.attempts + 1,
        "rung": deliveries.c.rung + 1,
        "lease_owner": worker_id,
        "leased_at": now,
        "lease_expires_at": expires,
        "next_attempt_at": expires,
        "updated_at": now,
    }
    claimed_cols = (
        deliveries.c.id,
        deliveries.c.application_id,
        deliveries.c.tenant_id,
        deliveries.c.route_id,
        deliveries.c.connector,
        deliveries.c.attempts,
        deliveries.c.rung,
        deliveries.c.lease_expires_at,
    )
    if conn.dialect.name == "postgresql":
        candidates = due.with_for_update(skip_locked=True).subquery("candidates")
        return list(
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == candidates.c.id)
                .values(lease)
                .returning(
                    *claimed_cols,
                    candidates.c.prev_state,
                    candidates.c.prev_owner,
                    candidates.c.prev_leased_at,
                )
            )
        )
    previous = {row.id: row for row in (await conn.execute(due)).all()}
    if not previous:
        return []
    updated = (
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(previous))
            .values(lease)
            .returning(*claimed_cols)
        )
    ).all()
    return [_merged(row, previous[row.id]) for row in updated]


def _merged(row: Any, previous: Any) -> SimpleNamespace:
    """A claimed row together with the values it had before the claim (SQLite path)."""
    return SimpleNamespace(
        **row._mapping,
        prev_state=previous.prev_state,
        prev_owner=previous.prev_owner,
        prev_leased_at=previous.prev_leased_at,
    )
