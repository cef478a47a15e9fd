"""What recording one attempt's outcome writes: the attempt row, the delivery's next state, the
application's status and the audit events — all inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, cast, column, update, values
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge import audit
from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, utcnow
from ozgbridge.ids import new_id
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.tables import UTCDateTime, applications, attempts, deliveries


def held_by(delivery_id: Any, worker_id: Any) -> ColumnElement[bool]:
    """The delivery is still leased to this worker — nobody took it over after a lease expiry.

    Arguments may be values or column expressions (for set-based updates).
    """
    return and_(
        deliveries.c.id == delivery_id,
        deliveries.c.lease_owner == worker_id,
        deliveries.c.state == DeliveryState.LEASED,
    )


_APPLICATION_STATUS = {
    DeliveryState.DELIVERED: ApplicationStatus.DELIVERED,
    DeliveryState.DEAD: ApplicationStatus.DEAD,
    None: ApplicationStatus.DELIVERING,
}


def _final_state(result: AttemptResult) -> DeliveryState | None:
    """Where the attempt leaves the delivery: delivered, dead, or None (pending again)."""
    if result.outcome == AttemptOutcome.DELIVERED:
        return DeliveryState.DELIVERED
    return DeliveryState.DEAD if result.retry_at is None else None


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
    final_state = _final_state(result)
    if result.outcome == AttemptOutcome.DELIVERED:
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
        changed = await conn.execute(
            update(deliveries)
            .where(held_by(claimed.id, worker_id))
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
        await conn.execute(
            update(applications)
            .where(applications.c.id == claimed.application_id)
            .values(status=_APPLICATION_STATUS[final_state], updated_at=now)
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


async def record_outcomes_together(
    conn: AsyncConnection, items: Sequence[tuple[ClaimedDelivery, str, AttemptResult]]
) -> tuple[list[bool], list[audit.AuditEvent]]:
    """`record_outcome` for a whole batch in a handful of set-based statements (PostgreSQL).

    Over a network every statement is a round trip, so a batch costs five statements whatever
    its size; ``UPDATE … FROM (VALUES …) RETURNING`` tells which deliveries were still ours.
    Nullable values are cast in SET: in a VALUES list, NULL alone would arrive typed as text.
    """
    now = utcnow()
    latest = {(c.id, c.attempt): (c, w, r) for c, w, r in items}  # one row per attempt number
    statement = postgresql.insert(attempts).values(
        [
            {
                "id": new_id(),
                "delivery_id": c.id,
                "number": c.attempt,
                "worker": w,
                "started_at": r.started_at,
                "finished_at": now,
                "outcome": r.outcome,
                "status_code": r.status_code,
                "error": r.error,
                "retry_at": r.retry_at,
            }
            for c, w, r in latest.values()
        ]
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["delivery_id", "number"],
            set_={
                name: statement.excluded[name]
                for name in (
                    "worker",
                    "started_at",
                    "finished_at",
                    "outcome",
                    "status_code",
                    "error",
                    "retry_at",
                )
            },
        )
    )
    ours: set[str] = set()
    delivered = [(c, r) for c, _w, r in items if r.outcome == AttemptOutcome.DELIVERED]
    if delivered:
        done = values(
            column("id", String), column("ref", String), column("code", Integer), name="done"
        ).data([(c.id, r.remote_reference, r.status_code) for c, r in delivered])
        ours |= set(
            (
                await conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id == done.c.id, deliveries.c.state != DeliveryState.DELIVERED
                    )
                    .values(
                        state=DeliveryState.DELIVERED,
                        delivered_at=now,
                        remote_reference=done.c.ref,
                        last_status_code=cast(done.c.code, Integer),
                        last_error=None,
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                    .returning(deliveries.c.id)
                )
            ).scalars()
        )
    failed = [(c, w, r) for c, w, r in items if r.outcome != AttemptOutcome.DELIVERED]
    if failed:
        again = values(
            column("id", String),
            column("worker", String),
            column("state", String),
            column("next_at", UTCDateTime),
            column("error", String),
            column("code", Integer),
            name="again",
        ).data(
            [
                (
                    c.id,
                    w,
                    DeliveryState.PENDING if r.retry_at else DeliveryState.DEAD,
                    r.retry_at or now,
                    r.error,
                    r.status_code,
                )
                for c, w, r in failed
            ]
        )
        ours |= set(
            (
                await conn.execute(
                    update(deliveries)
                    .where(held_by(again.c.id, again.c.worker))
                    .values(
                        state=again.c.state,
                        next_attempt_at=cast(again.c.next_at, UTCDateTime),
                        last_error=again.c.error,
                        last_status_code=cast(again.c.code, Integer),
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                    .returning(deliveries.c.id)
                )
            ).scalars()
        )
    events: list[audit.AuditEvent] = []
    statuses = []
    for claimed, worker_id, result in items:
        events.append(_attempt_event(claimed, worker_id, result))
        if claimed.id in ours:
            final = _final_state(result)
            statuses.append((claimed.application_id, _APPLICATION_STATUS[final]))
            if final is not None:
                events.append(_final_event(claimed, final, result))
    if statuses:
        status = values(column("id", String), column("status", String), name="status").data(
            statuses
        )
        await conn.execute(
            update(applications)
            .where(applications.c.id == status.c.id)
            .values(status=status.c.status, updated_at=now)
        )
    return [c.id in ours for c, _w, _r in items], events
