"""Forwarding and unroutable applications in SQL — inside the caller's transaction.

A move cancels what was still to be delivered to the old tenant, queues a delivery to the new one,
changes the application's tenant and records the move; the tenants an application has been with
are read back from these rows (see `ozgbridge.forwarding` for who decides where it goes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import ApplicationStatus, DeliveryState
from ozgbridge.ids import new_id
from ozgbridge.store.notify import notify_in
from ozgbridge.store.statuses import Case
from ozgbridge.store.tables import applications, deliveries, forwardings


@dataclass(frozen=True)
class Forwarding:
    """One move: from ``from_tenant`` to ``to_tenant``, by whom and when."""

    from_tenant: str
    to_tenant: str
    at: datetime
    by: str
    delivery_id: str


@dataclass(frozen=True)
class NewDelivery:
    """Where a forwarded application is delivered next."""

    tenant_id: str
    route_id: str
    connector: str
    first_attempt_at: datetime
    reason: str  # routing's reason: delegated, own, parent


async def visited_tenants(conn: AsyncConnection, case: Case) -> frozenset[str]:
    """The application's current tenant and every tenant it was forwarded away from."""
    earlier = await conn.execute(
        select(forwardings.c.from_tenant).where(forwardings.c.application_id == case.id)
    )
    return frozenset({case.tenant_id, *earlier.scalars()})


async def move(
    conn: AsyncConnection,
    case: Case,
    target: NewDelivery,
    *,
    at: datetime,
    by: str,
    entry_id: str,
    notify: bool,
) -> str:
    """Forward the application: its unfinished deliveries are cancelled, a new delivery to the
    new tenant is queued, the tenant changes and the move is recorded. Returns the delivery id."""
    delivery_id = new_id()
    cancelled = await _cancel_unfinished(
        conn, case, at=at, why=f"the application was forwarded to {target.tenant_id}"
    )
    await conn.execute(
        deliveries.insert().values(
            id=delivery_id,
            application_id=case.id,
            tenant_id=target.tenant_id,
            route_id=target.route_id,
            connector=target.connector,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=target.first_attempt_at,
            created_at=at,
            updated_at=at,
        )
    )
    await conn.execute(
        update(applications)
        .where(applications.c.id == case.id)
        .values(tenant_id=target.tenant_id, status=ApplicationStatus.RECEIVED, updated_at=at)
    )
    await conn.execute(
        forwardings.insert().values(
            id=new_id(),
            application_id=case.id,
            from_tenant=case.tenant_id,
            to_tenant=target.tenant_id,
            delivery_id=delivery_id,
            status_entry_id=entry_id,
            at=at,
            by=by,
        )
    )
    if notify and conn.dialect.name == "postgresql":
        await notify_in(conn)
    await audit.append(
        conn,
        *[
            audit.AuditEvent(
                actor=f"status:{by}",
                action="delivery.cancelled",
                tenant_id=row.tenant_id,
                application_id=case.id,
                delivery_id=row.id,
                details={"reason": "forwarded", "to_tenant": target.tenant_id},
            )
            for row in cancelled
        ],
        audit.AuditEvent(
            actor=f"status:{by}",
            action="application.forwarded",
            tenant_id=target.tenant_id,
            application_id=case.id,
            delivery_id=delivery_id,
            details={
                "from_tenant": case.tenant_id,
                "to_tenant": target.tenant_id,
                "route_id": target.route_id,
                "reason": target.reason,
                "entry_id": entry_id,
            },
        ),
    )
    return delivery_id


async def _cancel_unfinished(
    conn: AsyncConnection, case: Case, *, at: datetime, why: str
) -> list[Any]:
    """Cancel the application's pending and in-flight deliveries; their (id, tenant_id) rows."""
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.application_id == case.id,
            deliveries.c.state.in_([DeliveryState.PENDING, DeliveryState.LEASED]),
        )
        .values(
            state=DeliveryState.CANCELLED,
            cancelled_at=at,
            cancel_reason=why,
            last_error=f"cancelled: {why}",
            lease_owner=None,
            lease_expires_at=None,
            updated_at=at,
        )
        .returning(deliveries.c.id, deliveries.c.tenant_id)
    )
    return list(result.all())


async def mark_unroutable(
    conn: AsyncConnection, case: Case, *, at: datetime, by: str, entry_id: str
) -> None:
    """Nobody is responsible: the application stays with its tenant, unroutable, for operators.

    Its tenant said it is not responsible, so what was still to be delivered there is cancelled.
    """
    cancelled = await _cancel_unfinished(
        conn, case, at=at, why="the tenant is not responsible and nobody else is"
    )
    await conn.execute(
        update(applications)
        .where(applications.c.id == case.id)
        .values(status=ApplicationStatus.UNROUTABLE, updated_at=at)
    )
    await audit.append(
        conn,
        *[
            audit.AuditEvent(
                actor=f"status:{by}",
                action="delivery.cancelled",
                tenant_id=row.tenant_id,
                application_id=case.id,
                delivery_id=row.id,
                details={"reason": "unroutable"},
            )
            for row in cancelled
        ],
        audit.AuditEvent(
            actor=f"status:{by}",
            action="application.unroutable",
            tenant_id=case.tenant_id,
            application_id=case.id,
            details={"leika_key": case.leika_key, "ars": case.region.ars, "entry_id": entry_id},
        ),
    )


async def forwarded_from(engine: AsyncEngine, application_id: str) -> list[Forwarding]:
    """The application's moves, oldest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(forwardings)
                .where(forwardings.c.application_id == application_id)
                .order_by(forwardings.c.at, forwardings.c.id)
            )
        ).all()
    return [
        Forwarding(
            from_tenant=row.from_tenant,
            to_tenant=row.to_tenant,
            at=row.at,
            by=row.by,
            delivery_id=row.delivery_id,
        )
        for row in rows
    ]
