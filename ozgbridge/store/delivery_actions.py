"""Replaying and cancelling deliveries: each row locked, decided by `ozgbridge.ops.actions`, changed
and audited in one transaction.

A replay keeps the delivery id (back-ends drop duplicates by it), puts the delivery back to
``pending`` due now with the ladder restarted (``rung`` 0), and leaves the attempt count running
on, so every attempt keeps a unique number. Bulk replays walk the matching deliveries in id order,
one transaction per batch, so 100,000 matches need neither one huge transaction nor memory for
all ids, and workers keep delivering in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import ApplicationStatus, DeliveryState, utcnow
from ozgbridge.errors import ActionRefused, NotFound
from ozgbridge.ids import new_id
from ozgbridge.ops.actions import BULK_REPLAY_STATES, DeliveryFacts, refuse_cancel, refuse_replay
from ozgbridge.store.delivery_views import DeliveryFilter, DeliveryItem, DeliveryViews, fetch_item
from ozgbridge.store.notify import notify_in
from ozgbridge.store.routes import reason_details
from ozgbridge.store.tables import applications, deliveries

BULK_BATCH = 1000
REASON_CHARS = 500


class DeliveryNotFound(NotFound):
    """No delivery with this id (or none the caller may see)."""


@dataclass(frozen=True)
class BulkResult:
    matched: int
    replayed: int
    refused: int = 0


def _facts(row: Any) -> DeliveryFacts:
    return DeliveryFacts(
        id=row.id, state=DeliveryState(row.state), content_purged_at=row.content_purged_at
    )


def _replayed(now: datetime) -> dict[str, Any]:
    return {
        "state": DeliveryState.PENDING,
        "rung": 0,
        "next_attempt_at": now,
        "queued_at": now,
        "lease_owner": None,
        "leased_at": None,
        "lease_expires_at": None,
        "delivered_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "updated_at": now,
    }


class DeliveryActions:
    def __init__(self, engine: AsyncEngine, *, notify: bool = True) -> None:
        self.engine = engine
        # On PostgreSQL, wake the workers of other processes (as intake does, see notify.py).
        self.notify = notify and engine.dialect.name == "postgresql"

    async def _locked(
        self, conn: AsyncConnection, delivery_id: str, tenants: list[str] | None
    ) -> Any:
        # The application's row is locked too: a purge skips it meanwhile, or has finished and
        # the replay sees that it did (see store/purge.py).
        query = (
            select(
                deliveries.c.id,
                deliveries.c.state,
                deliveries.c.tenant_id,
                deliveries.c.application_id,
                applications.c.content_purged_at,
            )
            .select_from(
                deliveries.join(applications, applications.c.id == deliveries.c.application_id)
            )
            .where(deliveries.c.id == delivery_id)
        )
        row = (await conn.execute(query.with_for_update())).first()
        if row is None or (tenants is not None and row.tenant_id not in tenants):
            raise DeliveryNotFound(delivery_id)
        return row

    async def replay(
        self, delivery_id: str, *, actor: str, force: bool = False, tenants: list[str] | None = None
    ) -> DeliveryItem:
        """Replay one delivery; `DeliveryNotFound` or `ActionRefused` when it may not be."""
        now = utcnow()
        async with self.engine.begin() as conn:
            row = await self._locked(conn, delivery_id, tenants)
            refusal = refuse_replay(_facts(row), force=force)
            if refusal is not None:
                raise refusal
            events = await self._replay_rows(conn, [row], now, actor=actor, extra={"force": force})
            await audit.append(conn, *events)
            item = await fetch_item(conn, delivery_id)
        assert item is not None
        return item

    async def _replay_rows(
        self,
        conn: AsyncConnection,
        rows: list[Any],
        now: datetime,
        *,
        actor: str,
        extra: dict[str, Any],
    ) -> list[audit.AuditEvent]:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([r.id for r in rows]))
            .values(_replayed(now))
        )
        await conn.execute(
            update(applications)
            .where(applications.c.id.in_({r.application_id for r in rows}))
            .values(status=ApplicationStatus.DELIVERING, updated_at=now)
        )
        if self.notify:
            await notify_in(conn)
        return [
            audit.AuditEvent(
                actor=actor,
                action="delivery.replayed",
                tenant_id=r.tenant_id,
                application_id=r.application_id,
                delivery_id=r.id,
                details={"previous_state": str(r.state), **extra},
            )
            for r in rows
        ]

    async def cancel(
        self, delivery_id: str, *, actor: str, reason: str, tenants: list[str] | None = None
    ) -> DeliveryItem:
        now = utcnow()
        async with self.engine.begin() as conn:
            row = await self._locked(conn, delivery_id, tenants)
            refusal = refuse_cancel(_facts(row))
            if refusal is not None:
                raise refusal
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    state=DeliveryState.CANCELLED,
                    cancelled_at=now,
                    cancel_reason=reason[:REASON_CHARS],
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            await conn.execute(
                update(applications)
                .where(applications.c.id == row.application_id)
                .values(status=ApplicationStatus.CANCELLED, updated_at=now)
            )
            await audit.append(
                conn,
                audit.AuditEvent(
                    actor=actor,
                    action="delivery.cancelled",
                    tenant_id=row.tenant_id,
                    application_id=row.application_id,
                    delivery_id=row.id,
                    details={"previous_state": str(row.state), **reason_details(reason)},
                ),
            )
            item = await fetch_item(conn, delivery_id)
        assert item is not None
        return item

    async def bulk_replay(
        self,
        where: DeliveryFilter,
        *,
        actor: str,
        dry_run: bool = False,
        batch: int = BULK_BATCH,
    ) -> BulkResult:
        """Replay every delivery matching ``where`` (its states must be dead and/or cancelled)."""
        states = list(where.states or ([where.state] if where.state else []))
        if not states or not set(states) <= BULK_REPLAY_STATES:
            raise ActionRefused("a bulk replay selects dead or cancelled deliveries only")
        matched = await DeliveryViews(self.engine).count(where)
        if dry_run or matched == 0:
            return BulkResult(matched, 0)
        bulk_id = new_id()
        replayed = refused = 0
        after = ""
        while True:
            now = utcnow()
            async with self.engine.begin() as conn:
                rows = await self._batch(conn, where, after, batch)
                if not rows:
                    break
                after = rows[-1].id
                allowed = [r for r in rows if refuse_replay(_facts(r)) is None]
                refused += len(rows) - len(allowed)
                if allowed:
                    events = await self._replay_rows(
                        conn, allowed, now, actor=actor, extra={"bulk": bulk_id}
                    )
                    await audit.append(conn, *events)
                    replayed += len(allowed)
        await audit.record(
            self.engine,
            audit.AuditEvent(
                actor=actor,
                action="deliveries.bulk_replayed",
                details={
                    "bulk": bulk_id,
                    "states": [str(s) for s in states],
                    "tenants": list(where.tenants) if where.tenants is not None else None,
                    "route_id": where.route,
                    "leika_key": where.service,
                    "since": where.since.isoformat() if where.since else None,
                    "until": where.until.isoformat() if where.until else None,
                    "matched": matched,
                    "replayed": replayed,
                    "refused": refused,
                },
            ),
        )
        return BulkResult(matched, replayed, refused)

    async def _batch(
        self, conn: AsyncConnection, where: DeliveryFilter, after: str, size: int
    ) -> list[Any]:
        query = (
            select(
                deliveries.c.id,
                deliveries.c.state,
                deliveries.c.tenant_id,
                deliveries.c.application_id,
                applications.c.content_purged_at,
            )
            .select_from(
                deliveries.join(applications, applications.c.id == deliveries.c.application_id)
            )
            .where(and_(deliveries.c.id > after, *where.conditions()))
            .order_by(deliveries.c.id)
            .limit(size)
        )
        # FOR UPDATE OF deliveries: lock the rows changed here, not the applications read.
        return list(await conn.execute(query.with_for_update(of=deliveries)))
