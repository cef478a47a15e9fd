"""Bulk replay of 10,000 dead deliveries on PostgreSQL: in batches, every one replayed exactly
once, each with its audit event, the chain intact — and workers are not locked out meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import DeliveryState
from ozgbridge.store.delivery_actions import DeliveryActions
from ozgbridge.store.delivery_views import DeliveryFilter
from ozgbridge.store.engine import create_engine
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.tables import audit_events, deliveries

pytestmark = pytest.mark.postgres

DEAD = 10_000

_SEED = """
INSERT INTO applications (id, tenant_id, leika_key, ars, ags, submitted_by, status,
    data_mime_type, data_sha256, data_size, data, received_at, updated_at)
SELECT 'A' || lpad(g::text, 25, '0'), CASE WHEN g % 10 = 0 THEN 'gangelt' ELSE 'erkelenz' END,
    '99050012104000', '053700004004', '05370004', 'test', 'dead', 'application/json',
    repeat('0', 64), 2, '\\x7b7d'::bytea, now() - interval '1 day', now()
FROM generate_series(1, :n) g;
INSERT INTO deliveries (id, application_id, tenant_id, route_id, connector, state, attempts,
    rung, next_attempt_at, created_at, updated_at, queued_at, last_error)
SELECT 'D' || lpad(g::text, 25, '0'), 'A' || lpad(g::text, 25, '0'),
    CASE WHEN g % 10 = 0 THEN 'gangelt' ELSE 'erkelenz' END, 'gewerbe', 'http', 'dead', 10, 10,
    now() - interval '1 day', now() - interval '1 day', now(), now() - interval '1 day',
    'HTTP 503 from back-end (gave up after 10 attempts)'
FROM generate_series(1, :n) g;
"""


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    async with engine.begin() as conn:
        for statement in _SEED.strip().split(";\n"):
            await conn.execute(text(statement), {"n": DEAD + DEAD // 9})  # 10,000 in erkelenz
        await conn.execute(text("ANALYZE"))
    yield engine
    await engine.dispose()


async def test_bulk_replay_of_10000_dead_deliveries(
    pg: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    actions = DeliveryActions(pg)
    where = DeliveryFilter(state=DeliveryState.DEAD, tenants=["erkelenz"], route="gewerbe")

    dry = await actions.bulk_replay(where, actor="key:operator", dry_run=True)
    started = time.monotonic()
    # A worker keeps claiming meanwhile: batches commit one by one, nobody waits for the whole.
    queue = DeliveryQueue(pg)
    claimed: list[int] = []

    async def claim_along() -> None:
        while not done.is_set():
            claimed.append(len(await queue.claim("w", limit=50, lease_seconds=600)))
            await asyncio.sleep(0.05)

    done = asyncio.Event()
    claimer = asyncio.create_task(claim_along())
    result = await actions.bulk_replay(where, actor="key:operator")
    done.set()
    await claimer
    elapsed = time.monotonic() - started

    assert (dry.matched, dry.replayed) == (DEAD, 0)
    assert (result.matched, result.replayed, result.refused) == (DEAD, DEAD, 0)
    async with pg.connect() as conn:
        states = dict(
            (await conn.execute(
                select(deliveries.c.tenant_id + ":" + deliveries.c.state, func.count())
                .group_by(deliveries.c.tenant_id, deliveries.c.state)
            )).all()
        )  # fmt: skip
        replayed_events = (
            await conn.execute(
                select(func.count()).where(audit_events.c.action == "delivery.replayed")
            )
        ).scalar_one()
        waiting = deliveries.c.state == "pending"
        rungs = set((await conn.execute(select(deliveries.c.rung).where(waiting))).scalars())
    assert states.get("erkelenz:dead", 0) == 0
    assert states["erkelenz:pending"] + states.get("erkelenz:delivering", 0) == DEAD
    assert states["gangelt:dead"] == DEAD // 9  # another tenant's: untouched
    assert rungs <= {0}
    assert replayed_events == DEAD
    assert sum(claimed) > 0  # the worker got work while the replay ran
    assert (await audit.verify(pg)).ok
    with capsys.disabled():
        print(f"\nbulk replay: {DEAD} dead deliveries replayed in {elapsed:.1f} s")
