"""Stored deliveries in chosen states, for the operations API tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import AttemptOutcome, DeliveryState, utcnow
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import audit_events, deliveries
from tests.factories import new_application

GEWERBE = "99050012104000"
HUND = "99102013002000"


async def seed(
    engine: AsyncEngine,
    *,
    tenant: str = "erkelenz",
    route: str = "gewerbe",
    state: DeliveryState = DeliveryState.PENDING,
    count: int = 1,
    leika_key: str = GEWERBE,
) -> list[str]:
    """``count`` accepted applications whose delivery is then put into ``state``."""
    repo = Repository(engine)
    ids = []
    for _ in range(count):
        new = new_application(tenant_id=tenant, route_id=route, leika_key=leika_key)
        await repo.accept(new)
        ids.append(new.delivery_id)
    if state is DeliveryState.PENDING:
        return ids
    now = utcnow()
    values: dict[str, Any] = {"state": state, "updated_at": now}
    if state is DeliveryState.DEAD:
        values |= {
            "attempts": 3,
            "rung": 3,
            "last_error": "HTTP 503 from back-end",
            "last_status_code": 503,
        }
    elif state is DeliveryState.DELIVERED:
        values |= {"attempts": 1, "rung": 1, "delivered_at": now, "remote_reference": "FV-1"}
    elif state is DeliveryState.DELIVERING:
        expires = now + timedelta(seconds=60)
        values |= {"attempts": 1, "rung": 1, "lease_owner": "w", "leased_at": now,
                   "lease_expires_at": expires, "next_attempt_at": expires}  # fmt: skip
    elif state is DeliveryState.CANCELLED:
        values |= {"cancelled_at": now, "cancel_reason": "Dublette"}
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(values))
    return ids


async def fail_then_die(engine: AsyncEngine, delivery_id: str) -> None:
    """Two real attempts through the queue: a retriable failure, then a permanent one (dead)."""
    queue = DeliveryQueue(engine)
    for outcome, code in ((AttemptOutcome.RETRIABLE, 503), (AttemptOutcome.PERMANENT, 400)):
        async with engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id != delivery_id, deliveries.c.state == "pending")
                .values(next_attempt_at=utcnow() + timedelta(hours=1))
            )
        [claimed] = await queue.claim("w-test", limit=1, lease_seconds=60)
        assert claimed.id == delivery_id
        retry = utcnow() if outcome is AttemptOutcome.RETRIABLE else None
        result = AttemptResult(
            outcome, utcnow(), code, f"HTTP {code} from back-end", retry_at=retry
        )
        assert await queue.record(claimed, "w-test", result)


async def row(engine: AsyncEngine, delivery_id: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))).one()


async def events(engine: AsyncEngine, action: str) -> list[Any]:
    async with engine.connect() as conn:
        query = select(audit_events).where(audit_events.c.action == action)
        return list(await conn.execute(query.order_by(audit_events.c.seq)))


async def chain_ok(engine: AsyncEngine) -> bool:
    return (await audit.verify(engine)).ok
