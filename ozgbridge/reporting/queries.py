"""The report's aggregate queries (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Everything is grouped in the database; Python sees one row per tenant × service (or month ×
service), however many applications there are. Only the narrow columns are read — never form
data, attachment content or references.

Percentiles are `percentile_cont` (linear interpolation between the two nearest ranks). SQLite has
no such aggregate, so there the same formula runs over ROW_NUMBER/COUNT windows: for a group of
``n`` sorted values and fraction ``p``, ``h = (n-1)·p`` and the result is
``v[floor(h)] + (h-floor(h))·(v[floor(h)+1] - v[floor(h)])`` — PostgreSQL's own definition, so
both engines give the same figures.
"""

from __future__ import annotations

import asyncio
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
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import ApplicationStatus, DeliveryState
from ozgbridge.reporting.period import Period
from ozgbridge.store.tables import applications, attachments, deliveries

Pair = tuple[str, str]  # (tenant id, LeiKa key)
PERCENTILES = (0.5, 0.95)


@dataclass(frozen=True)
class Counts:
    received: int
    delivered: int
    dead: int
    data_bytes: int
    delivered_data_bytes: int


@dataclass(frozen=True)
class DeliveryStats:
    delivered: int
    attempts: int
    median_s: float | None
    p95_s: float | None


@dataclass(frozen=True)
class MonthCounts:
    received: int
    delivered: int
    dead: int


@dataclass(frozen=True)
class Facts:
    """What the database says about one period (and tenant scope)."""

    counts: dict[Pair, Counts]
    attachment_bytes: dict[Pair, tuple[int, int]]  # (all, of delivered applications)
    deliveries: dict[Pair, DeliveryStats]
    tenant_deliveries: dict[str, DeliveryStats]
    trend: dict[tuple[str, str], MonthCounts]  # (YYYY-MM, LeiKa key)


def _scoped(
    stmt: Select[tuple[object, ...]], period: Period, tenants: Sequence[str] | None
) -> Select[tuple[object, ...]]:
    stmt = stmt.where(
        applications.c.received_at >= period.start, applications.c.received_at < period.end
    )
    if tenants is not None:
        stmt = stmt.where(applications.c.tenant_id.in_(list(tenants)))
    return stmt


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum_if(condition: ColumnElement[bool], value: ColumnElement[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


_DELIVERED = applications.c.status == ApplicationStatus.DELIVERED.value
_DEAD = applications.c.status == ApplicationStatus.DEAD.value
_GROUP: tuple[ColumnElement[str], ...] = (applications.c.tenant_id, applications.c.leika_key)


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


def _month(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        # timezone('UTC', timestamptz) is the UTC wall time, whatever the session's TimeZone.
        return func.to_char(func.timezone("UTC", applications.c.received_at), "YYYY-MM")
    return func.strftime("%Y-%m", applications.c.received_at)


def _delivered_join() -> ColumnElement[bool]:
    # The delivery to the tenant the application is with: one to a tenant it was forwarded away
    # from (not responsible) is not its delivery any more, and must not count twice.
    return and_(
        deliveries.c.application_id == applications.c.id,
        deliveries.c.tenant_id == applications.c.tenant_id,
        deliveries.c.state == DeliveryState.DELIVERED.value,
    )


def _delivery_stats_statement(
    dialect: str,
    period: Period,
    tenants: Sequence[str] | None,
    group: Sequence[ColumnElement[str]],
) -> Select[tuple[object, ...]]:
    """Delivered count, attempts and latency percentiles per ``group`` (columns of applications)."""
    seconds = _seconds(dialect)
    source = applications.join(deliveries, _delivered_join())
    if dialect == "postgresql":
        stmt = select(
            *group,
            func.count().label("delivered"),
            func.coalesce(func.sum(deliveries.c.attempts), 0).label("attempts"),
            *[
                func.percentile_cont(p).within_group(seconds.asc()).label(f"p{i}")
                for i, p in enumerate(PERCENTILES)
            ],
        ).select_from(source)
        return _scoped(stmt, period, tenants).group_by(*group)

    ranked = (
        _scoped(
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


def _stats(row: Row[Any]) -> DeliveryStats:
    return DeliveryStats(
        int(row.delivered), int(row.attempts), _seconds_or_none(row.p0), _seconds_or_none(row.p1)
    )


async def fetch_facts(engine: AsyncEngine, period: Period, tenants: Sequence[str] | None) -> Facts:
    """Run the aggregate queries for ``period``; ``tenants=None`` means every tenant."""
    dialect = engine.dialect.name
    counts_stmt = _scoped(
        select(
            *_GROUP,
            func.count().label("received"),
            _count_if(_DELIVERED).label("delivered"),
            _count_if(_DEAD).label("dead"),
            func.coalesce(func.sum(applications.c.data_size), 0).label("bytes"),
            _sum_if(_DELIVERED, applications.c.data_size).label("delivered_bytes"),
        ),
        period,
        tenants,
    ).group_by(*_GROUP)
    attachments_stmt = _scoped(
        select(
            *_GROUP,
            func.coalesce(func.sum(attachments.c.size), 0).label("bytes"),
            _sum_if(_DELIVERED, attachments.c.size).label("delivered_bytes"),
        ).select_from(
            applications.join(attachments, attachments.c.application_id == applications.c.id)
        ),
        period,
        tenants,
    ).group_by(*_GROUP)
    month = _month(dialect)
    trend_stmt = _scoped(
        select(
            month.label("month"),
            applications.c.leika_key,
            func.count().label("received"),
            _count_if(_DELIVERED).label("delivered"),
            _count_if(_DEAD).label("dead"),
        ),
        period,
        tenants,
    ).group_by(month, applications.c.leika_key)

    statements = [
        counts_stmt,
        attachments_stmt,
        _delivery_stats_statement(dialect, period, tenants, _GROUP),
        _delivery_stats_statement(dialect, period, tenants, (applications.c.tenant_id,)),
        trend_stmt,
    ]
    counts_rows, attached_rows, stats_rows, tenant_rows, trend_rows = await _run_all(
        engine, statements
    )
    return Facts(
        counts={
            (r.tenant_id, r.leika_key): Counts(
                int(r.received), int(r.delivered), int(r.dead), int(r.bytes), int(r.delivered_bytes)
            )
            for r in counts_rows
        },
        attachment_bytes={
            (r.tenant_id, r.leika_key): (int(r.bytes), int(r.delivered_bytes))
            for r in attached_rows
        },
        deliveries={(r.tenant_id, r.leika_key): _stats(r) for r in stats_rows},
        tenant_deliveries={r.tenant_id: _stats(r) for r in tenant_rows},
        trend={
            (r.month, r.leika_key): MonthCounts(int(r.received), int(r.delivered), int(r.dead))
            for r in trend_rows
        },
    )


async def _run_all(
    engine: AsyncEngine, statements: Sequence[Select[tuple[object, ...]]]
) -> list[Sequence[Row[Any]]]:
    """Each statement's rows. PostgreSQL runs them at once, one connection each (each is a full
    scan of the period); SQLite one after the other on one connection, since every transaction
    there takes the write lock (see `ozgbridge.store.engine`) and parallel ones would only queue."""
    if engine.dialect.name != "postgresql":
        async with engine.connect() as conn:
            return [(await conn.execute(stmt)).all() for stmt in statements]

    async def one(stmt: Select[tuple[object, ...]]) -> Sequence[Row[Any]]:
        async with engine.connect() as conn:
            return (await conn.execute(stmt)).all()

    return list(await asyncio.gather(*(one(stmt) for stmt in statements)))


async def active_pairs(engine: AsyncEngine, period: Period, tenants: Sequence[str]) -> set[Pair]:
    """(tenant, LeiKa key) pairs with at least one application in ``period``."""
    stmt = _scoped(select(*_GROUP).distinct(), period, tenants)
    async with engine.connect() as conn:
        return {(r.tenant_id, r.leika_key) for r in await conn.execute(stmt)}
