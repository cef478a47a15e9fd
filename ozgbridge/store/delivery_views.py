"""Reading deliveries for operators: filtered, newest first, keyset-paginated; one with attempts.

Newest first means highest id first: ids are ULIDs, whose leading 48 bits are the creation time, so
the primary key orders by age and a page boundary ("ids below X") stays put while new deliveries
arrive above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge.domain import DeliveryState
from ozgbridge.store.tables import applications, attempts, deliveries

UNFINISHED_STATES = (DeliveryState.PENDING, DeliveryState.DELIVERING)


@dataclass(frozen=True)
class DeliveryFilter:
    state: DeliveryState | None = None
    states: Sequence[DeliveryState] | None = None  # any of these (bulk replay)
    tenants: Sequence[str] | None = None  # None: every tenant
    route: str | None = None
    service: str | None = None  # LeiKa key
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.state is not None:
            where.append(deliveries.c.state == str(self.state))
        if self.states is not None:
            where.append(deliveries.c.state.in_([str(s) for s in self.states]))
        if self.tenants is not None:
            where.append(deliveries.c.tenant_id.in_(list(self.tenants)))
        if self.route is not None:
            where.append(deliveries.c.route_id == self.route)
        if self.service is not None:
            where.append(applications.c.leika_key == self.service)
        if self.since is not None:
            where.append(deliveries.c.created_at >= self.since)
        if self.until is not None:
            where.append(deliveries.c.created_at < self.until)
        return where


@dataclass(frozen=True)
class DeliveryItem:
    id: str
    application_id: str
    tenant_id: str
    route_id: str
    connector: str
    service: str
    state: DeliveryState
    attempts: int
    rung: int
    last_error: str | None
    last_status_code: int | None
    next_attempt_at: datetime | None  # only while unfinished
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    remote_reference: str | None


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    worker: str
    response_excerpt: str | None = None

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.finished_at - self.started_at).total_seconds() * 1000))


_COLUMNS = (
    *(c for c in deliveries.c if c.name not in ("lease_owner", "leased_at", "lease_expires_at")),
    applications.c.leika_key,
)


def item_query() -> Select[Any]:
    return select(*_COLUMNS).select_from(
        deliveries.join(applications, applications.c.id == deliveries.c.application_id)
    )


def item_of(row: Any) -> DeliveryItem:
    state = DeliveryState(row.state)
    return DeliveryItem(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        route_id=row.route_id,
        connector=row.connector,
        service=row.leika_key,
        state=state,
        attempts=row.attempts,
        rung=row.rung,
        last_error=row.last_error,
        last_status_code=row.last_status_code,
        next_attempt_at=row.next_attempt_at if state in UNFINISHED_STATES else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        queued_at=row.queued_at,
        delivered_at=row.delivered_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        remote_reference=row.remote_reference,
    )


async def fetch_item(conn: AsyncConnection, delivery_id: str) -> DeliveryItem | None:
    row = (await conn.execute(item_query().where(deliveries.c.id == delivery_id))).first()
    return item_of(row) if row is not None else None


class DeliveryViews:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def page(
        self, where: DeliveryFilter, *, limit: int, below: str | None = None
    ) -> tuple[list[DeliveryItem], str | None]:
        """Up to ``limit`` deliveries newest first (ids below ``below``), and the next boundary."""
        query = item_query().where(*where.conditions())
        if below is not None:
            query = query.where(deliveries.c.id < below)
        query = query.order_by(deliveries.c.id.desc()).limit(limit + 1)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        items = [item_of(row) for row in rows[:limit]]
        return items, (items[-1].id if len(rows) > limit else None)

    async def get(self, delivery_id: str) -> DeliveryItem | None:
        async with self.engine.connect() as conn:
            return await fetch_item(conn, delivery_id)

    async def attempts(self, delivery_id: str) -> list[AttemptRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(attempts)
                .where(attempts.c.delivery_id == delivery_id)
                .order_by(attempts.c.number)
            )
            return [
                AttemptRecord(
                    number=r.number,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    outcome=r.outcome,
                    status_code=r.status_code,
                    error=r.error,
                    worker=r.worker,
                    response_excerpt=r.response_excerpt,
                )
                for r in rows
            ]

    async def count(self, where: DeliveryFilter) -> int:
        source: Any = deliveries
        if where.service is not None:  # the only condition on the application
            source = deliveries.join(applications, applications.c.id == deliveries.c.application_id)
        query = select(func.count()).select_from(source).where(and_(true(), *where.conditions()))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())
