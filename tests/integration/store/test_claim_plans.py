"""Claims read through the partial indexes on unfinished deliveries, however many finished ones
there are — on both engines, with a pause and a limited route in play (the new exclusions must
not push the planners off the index)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.ops.admission import RoutePolicy
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.store.routes import RouteStore
from ozgbridge.store.tables import deliveries
from tests.factories import new_application

FINISHED = 3000


async def seed(engine: AsyncEngine) -> None:
    repo = Repository(engine)
    routes = ("gewerbe", "hund", "melde")
    for start in range(0, FINISHED + 6, 200):  # concurrent accepts share group commits
        batch = range(start, min(start + 200, FINISHED + 6))
        await asyncio.gather(*(repo.accept(new_application(route_id=routes[n % 3])) for n in batch))
    async with engine.begin() as conn:
        # all but the last six are finished
        ids = (await conn.execute(text("SELECT id FROM deliveries ORDER BY id"))).scalars().all()
        await conn.execute(
            update(deliveries).where(deliveries.c.id.in_(ids[:FINISHED])).values(state="delivered")
        )
        await conn.execute(text("ANALYZE"))


async def claim_statements(engine: AsyncEngine, queue: DeliveryQueue) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM deliveries" in statement and "next_attempt_at <=" in statement:
            seen.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await queue.claim("w", limit=4, lease_seconds=60)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return seen


async def plans(engine: AsyncEngine, statements: list[tuple[str, Any]]) -> list[str]:
    found = []
    async with engine.connect() as conn:
        for statement, params in statements:
            if conn.dialect.name == "postgresql":
                rows = await conn.exec_driver_sql("EXPLAIN " + statement, params)
            else:
                rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            found.append("\n".join(str(r[-1]) for r in rows))
        await conn.rollback()
    return found


async def test_claims_use_the_partial_indexes(engine: AsyncEngine) -> None:
    await seed(engine)
    await RouteStore(engine).pause(("erkelenz", "melde"), actor="test")
    queue = DeliveryQueue(engine, policies={("erkelenz", "hund"): RoutePolicy(max_in_flight=1)})

    statements = await claim_statements(engine, queue)
    found = await plans(engine, statements)

    assert len(found) >= 3  # exists-check and take for the limited route, then the general take
    for plan in found:
        assert "Seq Scan on deliveries" not in plan, plan
        assert "SCAN deliveries\n" not in plan + "\n", plan
        # An index that holds (or is searched for) unfinished deliveries only: its cost does not
        # grow with the finished ones.
        unfinished_only = "ix_deliveries_due" in plan or "ix_deliveries_route_due" in plan
        by_state = "{pending,delivering}" in plan.split("Index Cond", 1)[-1].split("\n", 1)[0]
        assert unfinished_only or by_state, plan


async def test_a_deep_queue_is_claimed_in_due_order_without_sorting_it(
    engine: AsyncEngine,
) -> None:
    """A campaign peak: thousands pending, no statistics yet. The claim must read the first
    due rows off the index, not sort every pending delivery (which SQLite's planner chose
    by itself, through the state index, for each claim)."""
    repo = Repository(engine)
    for _batch in range(6):
        await asyncio.gather(*(repo.accept(new_application()) for _ in range(200)))
    queue = DeliveryQueue(engine)

    found = await plans(engine, await claim_statements(engine, queue))

    assert found
    for plan in found:
        assert "TEMP B-TREE" not in plan, plan  # SQLite: no sort of the whole queue
        assert "Sort" not in plan or "Limit" in plan.split("Sort", 1)[0], plan
        assert "ix_deliveries_due" in plan or "ix_deliveries_state" in plan, plan
    if engine.dialect.name == "sqlite":
        assert all("ix_deliveries_due" in plan for plan in found), found
