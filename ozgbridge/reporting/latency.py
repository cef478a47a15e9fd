"""Delivery latency per group: delivered count, attempts and percentiles, on both engines.

Percentiles are `percentile_cont` (linear interpolation between the two nearest ranks). SQLite has
no such aggregate, so there the same formula runs over ROW_NUMBER/COUNT windows: for a group of
``n`` sorted values and fraction ``p``, ``h = (n-1)·p`` and the result is
``v[floor(h)] + (h-floor(h))·(v[floor(h)+1] - v[floor(h)])`` — PostgreSQL's own definition, so
both engines give the same figures. On PostgreSQL one statement gives both the per (tenant,
service) and the per-tenant figures (``GROUP BY ROLLUP``): one join and one sort instead of two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Row,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql

from ozgbridge.domain import DeliveryState
from ozgbridge.reporting.period import Period
from ozgbridge.reporting.sql import scoped
from ozgbridge.store.tables import applications, deliveries

PERCENTILES = (0.5, 0.95)


@dataclass(frozen=True)
class DeliveryStats:
    delivered: int
    attempts: int
    median_s: float | None
    p95_s: float | None


def _seconds(dialect: str) -> ColumnElement[float]:
    """Receipt to delivery, in seconds."""
    if dialect == "postgresql":
        return cast(
            func.extract("epoch", deliveries.c.delivered_at - applications.c.received_at), Float
        )
    # SQLite keeps UTC timestamps as ISO text; julianday() reads them (days, as a float).
    return (
        func.julianday(deliveries.c.delivered_at) - func.julianday(applications.c.received_at)
    ) * literal(86400.0)


def _delivered_join() -> ColumnElement[bool]:
    # The delivery to the tenant the application is with: one to a tenant it was forwarded away
    # from (not responsible) is not its delivery any more, and must not count twice.
    return and_(
        deliveries.c.application_id == applications.c.id,
        deliveries.c.tenant_id == applications.c.tenant_id,
        deliveries.c.state == DeliveryState.DELIVERED.value,
    )


def delivery_stats_statement(
    dialect: str,
    period: Period,
    tenants: Sequence[str] | None,
    group: Sequence[ColumnElement[str]],
    *,
    rollup: bool = False,
) -> Select[tuple[object, ...]]:
    """Delivered count, attempts and latency percentiles per ``group`` (columns of applications);
    with ``rollup`` (PostgreSQL) also per each prefix of it, the prefix's other columns NULL."""
    seconds = _seconds(dialect)
    source = applications.join(deliveries, _delivered_join())
    if dialect == "postgresql":
        stmt = select(
            *group,
            func.count().label("delivered"),
            func.coalesce(func.sum(deliveries.c.attempts), 0).label("attempts"),
            # Every fraction from one sort of each group's values (the array form), where one
            # aggregate per fraction sorted them once each.
            func.percentile_cont(
                postgresql.array([literal(p, Float) for p in PERCENTILES]),
                type_=postgresql.ARRAY(Float),
            )
            .within_group(seconds.asc())
            .label("percentiles"),
        ).select_from(source)
        stmt = scoped(stmt, period, tenants)
        return stmt.group_by(func.rollup(*group)) if rollup else stmt.group_by(*group)

    ranked = (
        scoped(
            select(
                *group,
                deliveries.c.attempts.label("attempts"),
                seconds.label("s"),
                func.row_number().over(partition_by=list(group), order_by=seconds).label("rn"),
                func.count().over(partition_by=list(group)).label("n"),
            ).select_from(source),
            period,
            tenants,
        )
    ).subquery()

    def percentile(p: float) -> ColumnElement[float]:
        h = (ranked.c.n - 1) * literal(p)
        lower = cast(h, Integer)  # h >= 0: truncation is floor
        fraction = h - lower
        upper = lower + case((fraction > 0, 1), else_=0)
        position = ranked.c.rn - 1
        return func.sum(case((position == lower, ranked.c.s * (1 - fraction)), else_=0.0)) + (
            func.sum(case((position == upper, ranked.c.s * fraction), else_=0.0))
        )

    outer = [ranked.c[column.name] for column in group]
    return select(
        *outer,
        func.count().label("delivered"),
        func.coalesce(func.sum(ranked.c.attempts), 0).label("attempts"),
        *[percentile(p).label(f"p{i}") for i, p in enumerate(PERCENTILES)],
    ).group_by(*outer)


def _seconds_or_none(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def stats(row: Row[Any]) -> DeliveryStats:
    if "percentiles" in row._fields:  # PostgreSQL: one array, None where nothing was delivered
        median, p95 = row.percentiles or (None, None)
    else:
        median, p95 = row.p0, row.p1
    return DeliveryStats(
        int(row.delivered), int(row.attempts), _seconds_or_none(median), _seconds_or_none(p95)
    )
