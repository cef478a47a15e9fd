"""Per-route delivery figures for the route overview and the Prometheus gauges.

Two grouped queries, each on an index that stays small: unfinished deliveries through the
partial index ``ix_deliveries_route_due``, dead and cancelled ones through
``ix_deliveries_state_id``.
Delivered deliveries are never counted here — that number only grows, and counting it on every
scrape would get slower every day; `ozgbridge_delivery_attempts_total` has the rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge.domain import DeliveryState
from ozgbridge.ops.admission import RouteKey
from ozgbridge.store.tables import UNFINISHED_SQL, deliveries

COUNTED_STATES = (
    DeliveryState.PENDING,
    DeliveryState.DELIVERING,
    DeliveryState.DEAD,
    DeliveryState.CANCELLED,
)
_FAILED = (DeliveryState.DEAD, DeliveryState.CANCELLED)


@dataclass
class RouteFigures:
    counts: dict[DeliveryState, int] = field(
        default_factory=lambda: dict.fromkeys(COUNTED_STATES, 0)
    )
    oldest_queued_at: datetime | None = None


async def route_figures(
    conn: AsyncConnection, *, tenants: Iterable[str] | None = None
) -> dict[RouteKey, RouteFigures]:
    """Counts by state and the oldest unfinished delivery's queue time, per (tenant, route)."""
    tenant_list = None if tenants is None else sorted(set(tenants))
    figures: dict[RouteKey, RouteFigures] = {}

    unfinished = (
        select(
            deliveries.c.tenant_id,
            deliveries.c.route_id,
            deliveries.c.state,
            func.count().label("n"),
            func.min(deliveries.c.queued_at).label("oldest"),
        )
        .where(text(UNFINISHED_SQL))
        .group_by(deliveries.c.tenant_id, deliveries.c.route_id, deliveries.c.state)
    )
    failed = (
        select(
            deliveries.c.tenant_id,
            deliveries.c.route_id,
            deliveries.c.state,
            func.count().label("n"),
        )
        .where(deliveries.c.state.in_([str(s) for s in _FAILED]))
        .group_by(deliveries.c.tenant_id, deliveries.c.route_id, deliveries.c.state)
    )
    if tenant_list is not None:
        unfinished = unfinished.where(deliveries.c.tenant_id.in_(tenant_list))
        failed = failed.where(deliveries.c.tenant_id.in_(tenant_list))
    for row in await conn.execute(unfinished):
        entry = figures.setdefault((row.tenant_id, row.route_id), RouteFigures())
        entry.counts[DeliveryState(row.state)] = int(row.n)
        if row.oldest is not None and (
            entry.oldest_queued_at is None or row.oldest < entry.oldest_queued_at
        ):
            entry.oldest_queued_at = row.oldest
    for row in await conn.execute(failed):
        entry = figures.setdefault((row.tenant_id, row.route_id), RouteFigures())
        entry.counts[DeliveryState(row.state)] = int(row.n)
    return figures
