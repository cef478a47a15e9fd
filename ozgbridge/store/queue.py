"""The delivery queue: claiming due deliveries under a lease, renewing it, recording outcomes.

A claim takes pending deliveries whose time has come *and* leased ones whose lease ran out (their
worker died), so a crashed worker's deliveries come back by themselves. While a delivery is leased
its ``next_attempt_at`` equals ``lease_expires_at``: one partial index serves both cases.
PostgreSQL claims in one statement with ``FOR UPDATE SKIP LOCKED``; SQLite needs no row locks
because every transaction holds the database write lock (see engine.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import AttemptOutcome, DeliveryState, utcnow
from ozgbridge.store.batching import Failed, GroupCommit
from ozgbridge.store.outcomes import held_by, record_outcomes_together, upsert_attempts
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.tables import UNFINISHED_SQL, deliveries

logger = structlog.get_logger("ozgbridge.queue")

_UNFINISHED = text(UNFINISHED_SQL)  # literal, so the partial index ix_deliveries_due applies


_Record = tuple[ClaimedDelivery, str, AttemptResult]
# Runs inside the transaction that records a batch of outcomes, after them: what else the
# outcomes cause (portal events, a status the back-end reported) commits with them.
OutcomeHook = Callable[[AsyncConnection, Sequence[_Record], Sequence[bool]], Awaitable[None]]


class DeliveryQueue:
    def __init__(self, engine: AsyncEngine, *, after_outcomes: OutcomeHook | None = None) -> None:
        self.engine = engine
        self.after_outcomes = after_outcomes
        # Outcomes reported together share one transaction (see batching.py for why).
        self._records: GroupCommit[_Record, bool] = GroupCommit(self._flush_records)

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
        ).where(_UNFINISHED, deliveries.c.next_attempt_at <= now)
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
            logger.warning(
                "delivery.lease_expired",
                delivery_id=row.id,
                attempt=row.attempts - 1,
                worker=row.prev_owner,
            )
        if expired:
            await upsert_attempts(
                conn,
                [
                    {
                        "delivery_id": row.id,
                        "number": row.attempts - 1,
                        "worker": row.prev_owner or "unknown",
                        "started_at": row.prev_leased_at or now,
                        "finished_at": now,
                        "outcome": AttemptOutcome.RETRIABLE,
                        "status_code": None,
                        "error": "lease expired: the worker stopped before reporting an outcome",
                        "retry_at": now,
                    }
                    for row in expired
                ],
            )
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
                .where(held_by(claimed.id, worker_id))
                .values(lease_expires_at=expires, next_attempt_at=expires, updated_at=now)
            )
        return result.rowcount == 1

    async def record(self, claimed: ClaimedDelivery, worker_id: str, result: AttemptResult) -> bool:
        """Write the attempt, move the delivery on, audit it — in one transaction.

        Returns False when the delivery was no longer ours (lease expired and taken over); the
        attempt is recorded anyway, and a success still marks the delivery delivered, because the
        back-end has it whatever the lease says.
        """
        return await self._records.submit((claimed, worker_id, result))

    async def _flush_records(self, items: list[_Record]) -> list[bool | Failed]:
        async with self.engine.begin() as conn:
            owned, events = await record_outcomes_together(conn, items)
            await audit.append(conn, *events)
            if self.after_outcomes is not None:
                await self.after_outcomes(conn, items, owned)
        return list(owned)

    async def next_due_at(self) -> datetime | None:
        async with self.engine.connect() as conn:
            value: datetime | None = (
                await conn.execute(
                    select(func.min(deliveries.c.next_attempt_at)).where(_UNFINISHED)
                )
            ).scalar()
        return value

    async def count_unfinished(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count()).select_from(deliveries).where(_UNFINISHED)
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
