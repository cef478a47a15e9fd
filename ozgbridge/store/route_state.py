"""Reading, locking and writing route runtimes (``route_states``) and their transitions.

Used inside the caller's transaction by claims, outcome writes and operator actions. Locking a
route's row (PostgreSQL: ``FOR UPDATE``; SQLite: every transaction holds the write lock already)
serialises everything that decides about that route across all processes: the half-open probe,
``max_in_flight`` and the rate bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge import audit
from ozgbridge.domain import RouteState
from ozgbridge.ids import new_id
from ozgbridge.ops.admission import RouteKey, RouteRuntime, display_state
from ozgbridge.ops.breaker import Breaker, BreakerState
from ozgbridge.ops.bucket import Bucket
from ozgbridge.store.tables import UTCDateTime, route_states, route_transitions

REASON_CHARS = 500


def runtime_of(row: Any) -> RouteRuntime:
    bucket = None
    if row.tokens is not None and row.tokens_at is not None:
        bucket = Bucket(float(row.tokens), row.tokens_at)
    return RouteRuntime(
        paused=bool(row.paused),
        breaker=Breaker(
            state=BreakerState(row.breaker),
            failures=row.consecutive_failures,
            cooldown=row.cooldown,
            open_until=row.open_until,
            probe=row.probe_delivery_id,
        ),
        bucket=bucket,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
    )


def row_of(runtime: RouteRuntime) -> dict[str, Any]:
    """Column values for ``runtime`` (keys and updated_at are the caller's)."""
    breaker = runtime.breaker
    return {
        "paused": runtime.paused,
        "breaker": str(breaker.state),
        "consecutive_failures": breaker.failures,
        "cooldown": breaker.cooldown,
        "open_until": breaker.open_until,
        "probe_delivery_id": breaker.probe,
        "tokens": runtime.bucket.tokens if runtime.bucket else None,
        "tokens_at": runtime.bucket.at if runtime.bucket else None,
        "last_success_at": runtime.last_success_at,
        "last_failure_at": runtime.last_failure_at,
    }


def _keys_match(keys: Iterable[RouteKey]) -> Any:
    return tuple_(route_states.c.tenant_id, route_states.c.route_id).in_(list(keys))


async def load(
    conn: AsyncConnection, keys: Iterable[RouteKey] | None = None
) -> dict[RouteKey, RouteRuntime]:
    """Stored runtimes (all, or of ``keys``), without locking."""
    query = select(route_states)
    if keys is not None:
        keys = list(keys)
        if not keys:
            return {}
        query = query.where(_keys_match(keys))
    return {(r.tenant_id, r.route_id): runtime_of(r) for r in await conn.execute(query)}


async def load_special(conn: AsyncConnection) -> dict[RouteKey, RouteRuntime]:
    """Runtimes of routes that are paused or whose breaker is not closed (few, usually none)."""
    query = select(route_states).where(
        or_(route_states.c.paused, route_states.c.breaker != str(BreakerState.CLOSED))
    )
    return {(r.tenant_id, r.route_id): runtime_of(r) for r in await conn.execute(query)}


async def lock(
    conn: AsyncConnection, keys: Sequence[RouteKey], now: datetime
) -> dict[RouteKey, RouteRuntime]:
    """Create missing rows, then read and (PostgreSQL) lock the rows of ``keys`` in key order.

    The fixed order means two transactions locking overlapping sets cannot deadlock.
    """
    if not keys:
        return {}
    ordered = sorted(set(keys))
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(
        insert(route_states)
        .values([{"tenant_id": t, "route_id": r, "updated_at": now} for t, r in ordered])
        .on_conflict_do_nothing(index_elements=["tenant_id", "route_id"])
    )
    rows = await conn.execute(
        select(route_states)
        .where(_keys_match(ordered))
        .order_by(route_states.c.tenant_id, route_states.c.route_id)
        .with_for_update()
    )
    return {(r.tenant_id, r.route_id): runtime_of(r) for r in rows}


async def save(
    conn: AsyncConnection, runtimes: dict[RouteKey, RouteRuntime], now: datetime
) -> None:
    """Write runtimes of rows that exist (created by `lock`)."""
    if not runtimes:
        return
    params = [
        {"b_tenant": t, "b_route": r, **{f"b_{k}": v for k, v in row_of(rt).items()}}
        for (t, r), rt in runtimes.items()
    ]
    typed = {"open_until", "tokens_at", "last_success_at", "last_failure_at"}
    await conn.execute(
        update(route_states)
        .where(
            and_(
                route_states.c.tenant_id == bindparam("b_tenant"),
                route_states.c.route_id == bindparam("b_route"),
            )
        )
        .values(
            {
                name: bindparam(f"b_{name}", type_=UTCDateTime)
                if name in typed
                else bindparam(f"b_{name}")
                for name in row_of(RouteRuntime())
            }
            | {"updated_at": now}
        ),
        params,
    )


@dataclass(frozen=True)
class Transition:
    key: RouteKey
    from_state: RouteState
    to_state: RouteState
    reason: str
    actor: str
    action: str  # the audit action, e.g. route.paused, route.breaker_opened


def transition(
    key: RouteKey,
    before: RouteRuntime,
    after: RouteRuntime,
    *,
    reason: str,
    actor: str,
    action: str,
) -> Transition | None:
    """The transition from ``before`` to ``after``, or None if operators would see no change."""
    old, new = display_state(before), display_state(after)
    if old == new:
        return None
    return Transition(key, old, new, reason[:REASON_CHARS], actor, action)


async def record_transitions(
    conn: AsyncConnection,
    transitions: Sequence[Transition],
    now: datetime,
    *,
    audit_details: dict[str, Any] | None = None,
) -> list[audit.AuditEvent]:
    """Insert the transition rows; returns their audit events for the caller to append."""
    if not transitions:
        return []
    await conn.execute(
        route_transitions.insert(),
        [
            {
                "id": new_id(),
                "tenant_id": t.key[0],
                "route_id": t.key[1],
                "at": now,
                "from_state": str(t.from_state),
                "to_state": str(t.to_state),
                "reason": t.reason,
                "actor": t.actor,
            }
            for t in transitions
        ],
    )
    return [
        audit.AuditEvent(
            actor=t.actor,
            action=t.action,
            tenant_id=t.key[0],
            details={
                "route_id": t.key[1],
                "from_state": str(t.from_state),
                "to_state": str(t.to_state),
                **(audit_details or {"cause": t.reason}),
            },
        )
        for t in transitions
    ]
