"""The portal events outbox: events are written in the transaction that makes the news, then
claimed under a lease, sent, and moved on along the retry ladder — the delivery queue's rules.

Order: only the oldest unfinished event of an application can be claimed, so a portal gets one
application's events one after another; a retried event holds back the later ones until it is
sent or dead. A worker killed mid-send loses nothing: the lease runs out and the event is claimed
again (the portal may see it twice, with the same ``webhook-id``).

Bodies are sealed when they are written (they may carry a status note: personal data) and
opened only by the sender, right before it sends (`ozgbridge.events.sender`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import Sealer, portal_event_body_aad
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.events.model import EventState, NewEvent
from ozgbridge.store.notify import notify_in
from ozgbridge.store.tables import PORTAL_EVENTS_UNFINISHED_SQL, portal_events

logger = structlog.get_logger("ozgbridge.outbox")

_UNFINISHED = text(PORTAL_EVENTS_UNFINISHED_SQL)  # literal: the partial index applies
_OPEN = (EventState.PENDING, EventState.DELIVERING)


@dataclass(frozen=True)
class ClaimedEvent:
    seq: int
    id: str
    application_id: str
    key_id: str
    type: str
    # As stored: sealed under ``body_key_id`` (None: plaintext); None once retention purged it.
    body: bytes | None
    body_key_id: str | None
    attempt: int  # this attempt's number, 1 for the first


@dataclass(frozen=True)
class EventResult:
    outcome: AttemptOutcome
    status_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None  # for a failure: when to try again; None = dead


async def enqueue(
    conn: AsyncConnection, events: Sequence[NewEvent], *, notify: bool, sealer: Sealer
) -> None:
    """Put events in the outbox inside the caller's transaction (in the order given), their
    bodies sealed with ``sealer``."""
    if not events:
        return
    now = utcnow()
    sealer = sealer.pinned()
    for event in events:  # one by one: ``seq`` follows the order given
        body = sealer.seal(event.body().encode("utf-8"), portal_event_body_aad(event.id))
        await conn.execute(
            portal_events.insert().values(
                id=event.id,
                application_id=event.application_id,
                key_id=event.key_id,
                type=str(event.type),
                occurred_at=event.occurred_at,
                body=body,
                body_key_id=sealer.key_id,
                state=EventState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    if notify and conn.dialect.name == "postgresql":
        await notify_in(conn)


def _leased_to(worker_id: str) -> Any:
    """The event is still leased to this worker — nobody took it over after a lease expiry."""
    return and_(
        portal_events.c.lease_owner == worker_id,
        portal_events.c.state == EventState.DELIVERING,
    )


class EventOutbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim(
        self, worker_id: str, *, limit: int, lease_seconds: float
    ) -> list[ClaimedEvent]:
        """Lease up to ``limit`` due events, at most one (the oldest unfinished) per application."""
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        earlier = portal_events.alias("earlier")
        held_back = exists().where(
            earlier.c.application_id == portal_events.c.application_id,
            earlier.c.seq < portal_events.c.seq,
            earlier.c.state.in_(_OPEN),
        )
        due = (
            select(portal_events.c.seq, portal_events.c.state.label("prev_state"))
            .where(_UNFINISHED, portal_events.c.next_attempt_at <= now, ~held_back)
            .order_by(portal_events.c.next_attempt_at, portal_events.c.seq)
            .limit(limit)
        )
        if self.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True, of=portal_events)
        async with self.engine.begin() as conn:
            candidates = {row.seq: row.prev_state for row in await conn.execute(due)}
            if not candidates:
                return []
            rows = (
                await conn.execute(
                    update(portal_events)
                    .where(portal_events.c.seq.in_(candidates))
                    .values(
                        state=EventState.DELIVERING,
                        attempts=portal_events.c.attempts + 1,
                        lease_owner=worker_id,
                        leased_at=now,
                        lease_expires_at=expires,
                        next_attempt_at=expires,
                        updated_at=now,
                    )
                    .returning(
                        portal_events.c.seq,
                        portal_events.c.id,
                        portal_events.c.application_id,
                        portal_events.c.key_id,
                        portal_events.c.type,
                        portal_events.c.body,
                        portal_events.c.body_key_id,
                        portal_events.c.attempts,
                    )
                )
            ).all()
        for row in rows:
            if candidates[row.seq] == EventState.DELIVERING:
                logger.warning(
                    "portal_event.lease_expired", event_id=row.id, attempt=row.attempts - 1
                )
        return sorted(
            (
                ClaimedEvent(
                    seq=row.seq,
                    id=row.id,
                    application_id=row.application_id,
                    key_id=row.key_id,
                    type=row.type,
                    body=row.body,
                    body_key_id=row.body_key_id,
                    attempt=row.attempts,
                )
                for row in rows
            ),
            key=lambda event: event.seq,
        )

    async def renew(self, seqs: list[int], worker_id: str, *, until: datetime) -> list[int]:
        """Extend the leases of events still being sent; returns those that are still ours."""
        if not seqs:
            return []
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(portal_events)
                .where(portal_events.c.seq.in_(seqs), _leased_to(worker_id))
                .values(lease_expires_at=until, next_attempt_at=until, updated_at=utcnow())
                .returning(portal_events.c.seq)
            )
            return [row.seq for row in result]

    async def record(self, event: ClaimedEvent, worker_id: str, result: EventResult) -> bool:
        """Move the event on after one attempt; False if it was no longer this worker's.

        A success counts whatever the lease says (the portal has it); a failure only while the
        lease is still held, or two workers would each schedule a retry.
        """
        now = utcnow()
        delivered = result.outcome == AttemptOutcome.DELIVERED
        if delivered:
            condition = and_(
                portal_events.c.seq == event.seq,
                portal_events.c.state != EventState.DELIVERED,
            )
            values: dict[str, Any] = {
                "state": EventState.DELIVERED,
                "delivered_at": now,
                "last_error": None,
                "last_status_code": result.status_code,
            }
        else:
            condition = and_(portal_events.c.seq == event.seq, _leased_to(worker_id))
            values = {
                "state": EventState.PENDING if result.retry_at else EventState.DEAD,
                "next_attempt_at": result.retry_at or now,
                "last_error": result.error,
                "last_status_code": result.status_code,
            }
        values |= {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
        async with self.engine.begin() as conn:
            changed = (
                await conn.execute(update(portal_events).where(condition).values(values))
            ).rowcount == 1
            final = "delivered" if delivered else None if result.retry_at else "dead"
            if changed and final is not None:
                await audit.append(
                    conn,
                    audit.AuditEvent(
                        actor=f"worker:{worker_id}",
                        action=f"portal_event.{final}",
                        application_id=event.application_id,
                        details={
                            "event_id": event.id,
                            "type": event.type,
                            "key_id": event.key_id,
                            "attempts": event.attempt,
                            "status_code": result.status_code,
                            "error": result.error,
                        },
                    ),
                )
        return changed

    async def next_due_at(self) -> datetime | None:
        async with self.engine.connect() as conn:
            value: datetime | None = (
                await conn.execute(
                    select(func.min(portal_events.c.next_attempt_at)).where(_UNFINISHED)
                )
            ).scalar()
        return value
