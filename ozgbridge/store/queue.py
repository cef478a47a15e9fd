"""The delivery queue: claiming due deliveries under a lease, renewing it, recording outcomes.

A claim takes pending deliveries whose time has come *and* leased ones whose lease ran out (their
worker died), so a crashed worker's deliveries come back by themselves. While a delivery is leased
its ``next_attempt_at`` equals ``lease_expires_at``: one partial index serves both cases.
PostgreSQL claims in one statement with ``FOR UPDATE SKIP LOCKED``; SQLite needs no row locks
because every transaction holds the database write lock (see engine.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, utcnow
from ozgbridge.ids import new_id
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.tables import applications, attempts, deliveries

logger = structlog.get_logger("ozgbridge.queue")

_UNFINISHED = (DeliveryState.PENDING, DeliveryState.LEASED)


class DeliveryQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim(
        self, worker_id: str, *, limit: int, lease_seconds: float
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries for this worker."""
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        due = select(
            deliveries.c.id,
            deliveries.c.state.label("prev_state"),
            deliveries.c.lease_owner.label("prev_owner"),
            deliveries.c.leased_at.label("prev_leased_at"),
        ).where(deliveries.c.state.in_(_UNFINISHED), deliveries.c.next_attempt_at <= now)
        due = due.order_by(deliveries.c.next_attempt_at).limit(limit)
        lease = {
            "state": DeliveryState.LEASED,
            "attempts": deliveries.c.attempts + 1,
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
        )
        rows: list[Any]
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                candidates = due.with_for_update(skip_locked=True).subquery("candidates")
                rows = list(
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
            else:
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
                rows = [_merged(row, previous[row.id]) for row in updated]
            await self._note_expired_leases(conn, rows, now)
        return [
            ClaimedDelivery(
                id=row.id,
                application_id=row.application_id,
                tenant_id=row.tenant_id,
                route_id=row.route_id,
                connector=row.connector,
                attempt=row.attempts,
                lease_expires_at=expires,
            )
            for row in rows
        ]

    async def _note_expired_leases(
        self, conn: AsyncConnection, rows: list[Any], now: datetime
    ) -> None:
        """Give the attempt a dead worker never reported its own row and audit event."""
        expired = [row for row in rows if row.prev_state == DeliveryState.LEASED]
        for row in expired:
            number = row.attempts - 1
            await _upsert_attempt(
                conn,
                delivery_id=row.id,
                number=number,
                worker=row.prev_owner or "unknown",
                started_at=row.prev_leased_at or now,
                finished_at=now,
                outcome=AttemptOutcome.RETRIABLE,
                status_code=None,
                error="lease expired: the worker stopped before reporting an outcome",
                retry_at=now,
            )
            logger.warning(
                "delivery.lease_expired", delivery_id=row.id, attempt=number, worker=row.prev_owner
            )
        if expired:
            await audit.append(
                conn,
                *[
                    audit.AuditEvent(
                        actor="system:worker",
                        action="delivery.lease_expired",
                        tenant_id=row.tenant_id,
                        application_id=row.application_id,
                        delivery_id=row.id,
                        details={"attempt": row.attempts - 1, "worker": row.prev_owner},
                    )
                    for row in expired
                ],
            )

    async def renew(
        self, claimed: ClaimedDelivery, worker_id: str, *, lease_seconds: float
    ) -> bool:
        """Extend the lease of a delivery still in flight; False if it is no longer ours."""
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == claimed.id,
                    deliveries.c.lease_owner == worker_id,
                    deliveries.c.state == DeliveryState.LEASED,
                )
                .values(lease_expires_at=expires, next_attempt_at=expires, updated_at=now)
            )
        return result.rowcount == 1

    async def record(self, claimed: ClaimedDelivery, worker_id: str, result: AttemptResult) -> bool:
        """Write the attempt, move the delivery on, audit it — in one transaction.

        Returns False when the delivery was no longer ours (lease expired and taken over); the
        attempt is recorded anyway, and a success still marks the delivery delivered, because the
        back-end has it whatever the lease says.
        """
        now = utcnow()
        async with self.engine.begin() as conn:
            await _upsert_attempt(
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
            await audit.append(conn, *events)
        return ours

    async def next_due_at(self) -> datetime | None:
        async with self.engine.connect() as conn:
            value: datetime | None = (
                await conn.execute(
                    select(func.min(deliveries.c.next_attempt_at)).where(
                        deliveries.c.state.in_(_UNFINISHED)
                    )
                )
            ).scalar()
        if value is not None and value.tzinfo is None:  # func.min bypasses the type decorator
            value = value.replace(tzinfo=utcnow().tzinfo)
        return value

    async def count_unfinished(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count()).where(deliveries.c.state.in_(_UNFINISHED))
                    )
                ).scalar_one()
            )


def _merged(row: Any, previous: Any) -> SimpleNamespace:
    """A claimed row together with the values it had before the claim (SQLite path)."""
    return SimpleNamespace(
        **row._mapping,
        prev_state=previous.prev_state,
        prev_owner=previous.prev_owner,
        prev_leased_at=previous.prev_leased_at,
    )


async def _upsert_attempt(conn: AsyncConnection, **values: Any) -> None:
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
