"""The portal events outbox as people see it: lists of events (never their bodies) and replaying
a dead one. Sending is `ozgbridge.store.outbox`'s business."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import utcnow
from ozgbridge.events.model import EventState
from ozgbridge.store.notify import notify_in
from ozgbridge.store.tables import portal_events

_OPEN = (EventState.PENDING, EventState.DELIVERING)


@dataclass(frozen=True)
class EventView:
    """An outbox entry as operators and its portal see it (without its body)."""

    seq: int
    id: str
    application_id: str
    key_id: str
    type: str
    occurred_at: datetime
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    delivered_at: datetime | None
    body_purged: bool = False  # retention deleted its body: it can no longer be sent


class EventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def replay(self, event_id: str, *, actor: str) -> EventView | None:
        """Send a dead event again (a fresh ladder, attempts counting on); None if it is not
        dead, or retention deleted its body."""
        now = utcnow()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(portal_events)
                    .where(
                        portal_events.c.id == event_id,
                        portal_events.c.state == EventState.DEAD,
                        portal_events.c.body.is_not(None),
                    )
                    .values(state=EventState.PENDING, next_attempt_at=now, updated_at=now)
                    .returning(portal_events.c.application_id, portal_events.c.attempts)
                )
            ).first()
            if row is None:
                return None
            await audit.append(
                conn,
                audit.AuditEvent(
                    actor=actor,
                    action="portal_event.replayed",
                    application_id=row.application_id,
                    details={"event_id": event_id, "attempts": row.attempts},
                ),
            )
            if conn.dialect.name == "postgresql":
                await notify_in(conn)
        return await self.get(event_id)

    async def get(self, event_id: str) -> EventView | None:
        views = await self._views(portal_events.c.id == event_id, limit=1)
        return views[0] if views else None

    async def listing(
        self,
        *,
        state: str | None = None,
        key_id: str | None = None,
        application_id: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[EventView]:
        """Newest first; ``before`` is the ``seq`` the previous page ended with."""
        conditions = []
        if state is not None:
            conditions.append(portal_events.c.state == state)
        if key_id is not None:
            conditions.append(portal_events.c.key_id == key_id)
        if application_id is not None:
            conditions.append(portal_events.c.application_id == application_id)
        if before is not None:
            conditions.append(portal_events.c.seq < before)
        return await self._views(and_(True, *conditions), limit=limit)

    async def _views(self, condition: Any, *, limit: int) -> list[EventView]:
        columns = [
            *(c for c in portal_events.c if c.name not in ("body", "body_key_id")),
            portal_events.c.body.is_(None).label("body_purged"),
        ]
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(*columns)
                    .where(condition)
                    .order_by(portal_events.c.seq.desc())
                    .limit(limit)
                )
            ).all()
        return [
            EventView(
                seq=row.seq,
                id=row.id,
                application_id=row.application_id,
                key_id=row.key_id,
                type=row.type,
                occurred_at=row.occurred_at,
                state=row.state,
                attempts=row.attempts,
                next_attempt_at=row.next_attempt_at if row.state in _OPEN else None,
                last_error=row.last_error,
                last_status_code=row.last_status_code,
                delivered_at=row.delivered_at,
                body_purged=bool(row.body_purged),
            )
            for row in rows
        ]
