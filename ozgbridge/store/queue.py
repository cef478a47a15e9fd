"""The delivery queue: claiming due deliveries under a lease, renewing it, recording outcomes.

A claim takes pending deliveries whose time has come *and* delivering ones whose lease ran out
(their worker died), so a crashed worker's deliveries come back by themselves. While a delivery is
leased its ``next_attempt_at`` equals ``lease_expires_at``: one partial index serves both cases.
PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite needs no row locks because every
transaction holds the database write lock (see engine.py). Paused routes, open breakers and
per-route limits are honoured inside the claim (see claims.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import AttemptOutcome, DeliveryState, utcnow
from ozgbridge.ops.admission import RouteKey, RoutePolicy
from ozgbridge.store import claims
from ozgbridge.store.batching import Failed, GroupCommit
from ozgbridge.store.outcomes import leased_to, record_outcomes_together, upsert_attempts
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.tables import UNFINISHED_SQL, UTCDateTime, deliveries

logger = structlog.get_logger("ozgbridge.queue")

_UNFINISHED = text(UNFINISHED_SQL)  # literal, so the partial index ix_deliveries_due applies
# Built once: every renewal tick of every worker asks it.
_RENEW = (
    update(deliveries)
    .where(
        deliveries.c.id.in_(bindparam("ids", expanding=True)),
        leased_to(bindparam("owner")),
    )
    .values(
        lease_expires_at=bindparam("until", type_=UTCDateTime),
        next_attempt_at=bindparam("until", type_=UTCDateTime),
        updated_at=bindparam("now", type_=UTCDateTime),
    )
    .returning(deliveries.c.id)
)


_Record = tuple[ClaimedDelivery, str, AttemptResult]
RECORD_LINGER = 0.01  # seconds
Policies = Mapping[RouteKey, RoutePolicy]
# Runs inside the transaction that records a batch of outcomes, after them: what else the
# outcomes cause (portal events, a status the back-end reported) commits with them.
OutcomeHook = Callable[[AsyncConnection, Sequence[_Record], Sequence[bool]], Awaitable[None]]


@dataclass(frozen=True)
class ClaimHint:
    """What the last claim learnt for the worker's wait: routes whose due work cannot go now,
    and the earliest moment one of them may open by itself (cool-down end, next rate token)."""

    blocked: frozenset[RouteKey] = frozenset()
    wake_at: datetime | None = None


class DeliveryQueue:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        policies: Policies | Callable[[], Policies] | None = None,
        after_outcomes: OutcomeHook | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        """``policies``: breaker settings and limits per route (routes not named get the
        defaults), fixed or a function giving the ones in force (a reload replaces them).
        ``sealer`` seals what back-ends answered to failed attempts (it may quote content)."""
        self.engine = engine
        self._policies = policies
        self.after_outcomes = after_outcomes
        self.hint = ClaimHint()
        self.sealer = sealer
        # Outcomes reported together share one transaction (see batching.py for why).
        # - One flusher on SQLite: a second could only wait for the one connection (engine.py),
        #   with a batch taken early that would otherwise have joined the next one.
        # - Outcomes arrive a few at a time, as back-ends answer; a flush that waits 10 ms for
        #   more takes batches several times larger (each costs a dozen statements and a commit
        #   whatever its size). Measured with 64 in flight: ~7 outcomes per flush at 3 ms and
        #   ~1.8 ms of worker CPU per delivery; at 10 ms mostly all 64 and ~0.8 ms. The delay
        #   only holds the slot a little longer: the back-end has the application already.
        self._records: GroupCommit[_Record, bool] = GroupCommit(
            self._flush_records,
            flushers=1 if engine.dialect.name == "sqlite" else 2,
            linger=RECORD_LINGER,
        )

    @property
    def policies(self) -> Policies:
        source = self._policies
        if source is None:
            return {}
        return source() if callable(source) else source

    async def claim(
        self, worker_id: str, *, limit: int, lease_seconds: float
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries for this worker, within every route's limits."""
        now = utcnow()
        async with self.engine.begin() as conn:
            run = await claims.claim(
                conn,
                worker_id,
                limit=limit,
                lease_seconds=lease_seconds,
                policies=self.policies,
                now=now,
            )
            await self._note_expired_leases(conn, run.rows, now)
            if run.events:
                await audit.append(conn, *run.events)
        self.hint = ClaimHint(frozenset(run.blocked), run.wake_at)
        return [
            ClaimedDelivery(
                id=row.id,
                application_id=row.application_id,
                tenant_id=row.tenant_id,
                route_id=row.route_id,
                connector=row.connector,
                attempt=row.attempts,
                lease_expires_at=row.lease_expires_at,
                rung=row.rung,
                probe=row.id in run.probes,
            )
            for row in run.rows
        ]

    async def _note_expired_leases(
        self, conn: AsyncConnection, rows: list[Any], now: datetime
    ) -> None:
        """Give the attempt a dead worker never reported its own row and audit event."""
        expired = [row for row in rows if row.prev_state == DeliveryState.DELIVERING]
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

    async def renew(self, delivery_ids: list[str], worker_id: str, *, until: datetime) -> list[str]:
        """Extend the leases of deliveries still in flight; returns those that are still ours."""
        if not delivery_ids:
            return []
        async with self.engine.begin() as conn:
            result = await conn.execute(
                _RENEW,
                {"ids": delivery_ids, "owner": worker_id, "until": until, "now": utcnow()},
            )
            return [row.id for row in result]

    async def record(
        self, claimed: ClaimedDelivery, worker_id: str, result: AttemptResult, *, last: bool = False
    ) -> bool:
        """Write the attempt, move the delivery on, audit it — in one transaction.

        Returns False when the delivery was no longer ours (lease expired and taken over); the
        attempt is recorded anyway, and a success still marks the delivery delivered, because the
        back-end has it whatever the lease says. ``last``: the caller has no other attempt
        running, so no outcome is worth waiting for (the write goes without its linger).
        """
        return await self._records.submit((claimed, worker_id, result), last=last)

    async def _flush_records(self, items: list[_Record]) -> list[bool | Failed]:
        async with self.engine.begin() as conn:
            owned, events = await record_outcomes_together(conn, items, self.policies, self.sealer)
            await audit.append(conn, *events)
            if self.after_outcomes is not None:
                await self.after_outcomes(conn, items, owned)
        return list(owned)

    async def next_due_at(self, *, exclude: frozenset[RouteKey] = frozenset()) -> datetime | None:
        """When the next delivery falls due, not counting the routes in ``exclude``."""
        query = claims.sqlite_index(
            select(func.min(deliveries.c.next_attempt_at)).where(_UNFINISHED), "ix_deliveries_due"
        )
        skip = claims.not_in_routes(set(exclude))
        if skip is not None:
            query = query.where(skip)
        async with self.engine.connect() as conn:
            value: datetime | None = (await conn.execute(query)).scalar()
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
