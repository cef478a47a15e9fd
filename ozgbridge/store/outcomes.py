"""What recording one attempt's outcome writes: the attempt row, the delivery's next state, the
application's status and the audit events — all inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge import audit
from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, utcnow
from ozgbridge.ids import new_id
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.tables import applications, attempts, deliveries


async def record_outcome(
    conn: AsyncConnection, claimed: ClaimedDelivery, worker_id: str, result: AttemptResult
) -> tuple[bool, list[audit.AuditEvent]]:
    """One outcome's writes; returns whether the delivery was still ours, and its audit events."""
    now = utcnow()
    await upsert_attempt(
        conn,
        delivery_id=claimed.id,
        number=claimed.attempt,
        worker=worker_id,
        started_at=result.started_at,
        finished_at=now,
        outcome=result.outcome,
        status_code=result.status_code,
        error=result.error,
        retry_at=result.retry_at,
    )
    if result.outcome == AttemptOutcome.DELIVERED:
        final_state: DeliveryState | None = DeliveryState.DELIVERED
        changed = await conn.execute(
            update(deliveries)
            .where(
                deliveries.c.id == claimed.id,
                deliveries.c.state != DeliveryState.DELIVERED,
            )
            .values(
                state=DeliveryState.DELIVERED,
                delivered_at=now,
                remote_reference=result.remote_reference,
                last_status_code=result.status_code,
                last_error=None,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
    else:
        final_state = DeliveryState.DEAD if result.retry_at is None else None
        changed = await conn.execute(
            update(deliveries)
            .where(
                deliveries.c.id == claimed.id,
                deliveries.c.lease_owner == worker_id,
                deliveries.c.state == DeliveryState.LEASED,
            )
            .values(
                state=final_state or DeliveryState.PENDING,
                next_attempt_at=result.retry_at or now,
                last_error=result.error,
                last_status_code=result.status_code,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
    ours = changed.rowcount == 1
    events = [_attempt_event(claimed, worker_id, result)]
    if ours:
        status = {
            DeliveryState.DELIVERED: ApplicationStatus.DELIVERED,
            DeliveryState.DEAD: ApplicationStatus.DEAD,
            None: ApplicationStatus.DELIVERING,
        }[final_state]
        await conn.execute(
            update(applications)
            .where(applications.c.id == claimed.application_id)
            .values(status=status, updated_at=now)
        )
        if final_state is not None:
            events.append(_final_event(claimed, final_state, result))
    return ours, events


async def upsert_attempt(conn: AsyncConnection, **values: Any) -> None:
    """One row per (delivery, attempt number); a late real outcome replaces a lease-expiry note."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(attempts).values(id=new_id(), **values)
    statement = statement.on_conflict_do_update(
        index_elements=["delivery_id", "number"],
        set_={k: statement.excluded[k] for k in values if k not in ("delivery_id", "number")},
    )
    await conn.execute(statement)


def _attempt_event(
    claimed: ClaimedDelivery, worker_id: str, result: AttemptResult
) -> audit.AuditEvent:
    return audit.AuditEvent(
        actor=f"worker:{worker_id}",
        action="delivery.attempt",
        tenant_id=claimed.tenant_id,
        application_id=claimed.application_id,
        delivery_id=claimed.id,
        details={
            "attempt": claimed.attempt,
            "outcome": str(result.outcome),
            "status_code": result.status_code,
            "error": result.error,
            "retry_at": result.retry_at.isoformat() if result.retry_at else None,
        },
    )


def _final_event(
    claimed: ClaimedDelivery, state: DeliveryState, result: AttemptResult
) -> audit.AuditEvent:
    return audit.AuditEvent(
        actor="system:worker",
        action=f"delivery.{state}",
        tenant_id=claimed.tenant_id,
        application_id=claimed.application_id,
        delivery_id=claimed.id,
        details={
            "attempts": claimed.attempt,
            "remote_reference": result.remote_reference,
            "error": result.error,
        },
    )
