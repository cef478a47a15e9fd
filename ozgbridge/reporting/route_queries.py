"""Per-route facts for availability, one query each, for several periods in the same scan.

The report needs them for its period and for the previous one (Δ); conditional sums per period
read the deliveries table once for both. Route tests and breaker transitions come from the
operations tables ``route_checks`` and ``route_transitions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import DeliveryState
from ozgbridge.reporting.availability import (
    WITHIN,
    RouteChecks,
    RouteFacts,
    RouteKey,
    Transition,
    open_seconds,
)
from ozgbridge.reporting.period import Period
from ozgbridge.reporting.sql import count_if
from ozgbridge.store.tables import deliveries, route_checks, route_transitions

_UNDER_WAY = (DeliveryState.PENDING.value, DeliveryState.LEASED.value)


def _in(value: Any, period: Period) -> ColumnElement[bool]:
    return and_(value >= period.start, value < period.end)


def _within_hour(dialect: str) -> ColumnElement[bool]:
    d = deliveries.c
    if dialect == "postgresql":
        return d.delivered_at <= d.created_at + literal_column("interval '1 hour'")
    # SQLite keeps UTC timestamps as ISO text; julianday() reads them (days, as a float).
    return (func.julianday(d.delivered_at) - func.julianday(d.created_at)) * literal(
        86400.0
    ) <= literal(WITHIN)


async def route_facts(
    engine: AsyncEngine, periods: Sequence[Period], now: datetime
) -> list[dict[RouteKey, RouteFacts]]:
    """For each period: `RouteFacts` per (tenant, route) that saw any delivery in it."""
    d = deliveries.c
    under_way = and_(
        d.state.in_(_UNDER_WAY), d.created_at > now - timedelta(seconds=WITHIN)
    ).self_group()
    delivered_in_time = and_(d.delivered_at.is_not(None), _within_hour(engine.dialect.name))
    columns: list[Any] = []
    touched_any = []
    for i, period in enumerate(periods):
        received = _in(d.created_at, period)
        delivered = _in(d.delivered_at, period)
        touched = or_(received, _in(d.updated_at, period), delivered)
        touched_any.append(touched)
        columns += [
            count_if(received).label(f"deliveries_{i}"),
            count_if(and_(received, delivered_in_time)).label(f"within_{i}"),
            count_if(and_(received, under_way)).label(f"undecided_{i}"),
            count_if(delivered).label(f"delivered_{i}"),
            count_if(and_(received, d.state == DeliveryState.DEAD.value)).label(f"dead_{i}"),
            count_if(and_(touched, not_(under_way))).label(f"traffic_{i}"),
            func.max(case((delivered, d.delivered_at))).label(f"last_{i}"),
        ]
    stmt = (
        select(d.tenant_id, d.route_id, *columns)
        .where(or_(*touched_any))
        .group_by(d.tenant_id, d.route_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    result: list[dict[RouteKey, RouteFacts]] = [{} for _ in periods]
    for row in rows:
        values = row._mapping
        for i in range(len(periods)):
            facts = RouteFacts(
                deliveries=int(values[f"deliveries_{i}"]),
                within_hour=int(values[f"within_{i}"]),
                undecided=int(values[f"undecided_{i}"]),
                delivered=int(values[f"delivered_{i}"]),
                dead=int(values[f"dead_{i}"]),
                traffic=int(values[f"traffic_{i}"]),
                last_delivered_at=values[f"last_{i}"],
            )
            if facts.traffic or facts.deliveries or facts.delivered:
                result[i][(row.tenant_id, row.route_id)] = facts
    return result


async def checks_per_route(
    engine: AsyncEngine, periods: Sequence[Period]
) -> list[dict[RouteKey, RouteChecks]]:
    """For each period: successful and failed route tests per route."""
    c = route_checks.c
    columns: list[Any] = []
    for i, period in enumerate(periods):
        columns += [
            count_if(and_(_in(c.at, period), c.ok)).label(f"ok_{i}"),
            count_if(and_(_in(c.at, period), not_(c.ok))).label(f"failed_{i}"),
        ]
    stmt = (
        select(c.tenant_id, c.route_id, *columns)
        .where(or_(*(_in(c.at, p) for p in periods)))
        .group_by(c.tenant_id, c.route_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        {
            (r.tenant_id, r.route_id): RouteChecks(
                int(r._mapping[f"ok_{i}"]), int(r._mapping[f"failed_{i}"])
            )
            for r in rows
        }
        for i in range(len(periods))
    ]


async def breaker_open(
    engine: AsyncEngine, periods: Sequence[Period], now: datetime
) -> list[dict[RouteKey, float]]:
    """For each period: seconds each route's breaker was open or half-open."""
    if not periods:
        return []
    t = route_transitions.c
    stmt = (
        select(t.tenant_id, t.route_id, t.at, t.to_state)
        .where(t.at < max(p.end for p in periods))
        .order_by(t.tenant_id, t.route_id, t.at, t.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    by_route: dict[RouteKey, list[Transition]] = {}
    for row in rows:
        by_route.setdefault((row.tenant_id, row.route_id), []).append(
            Transition(row.at, row.to_state)
        )
    return [
        {key: open_seconds(found, period, now) for key, found in by_route.items()}
        for period in periods
    ]
