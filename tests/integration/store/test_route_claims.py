"""Claims honour pauses, circuit breakers and per-route limits — across claimers, both engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import AttemptOutcome, DeliveryState, RouteState, utcnow
from ozgbridge.ops.admission import RoutePolicy
from ozgbridge.store.engine import create_engine
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult, ClaimedDelivery
from ozgbridge.store.repository import Repository
from ozgbridge.store.routes import RouteStore
from ozgbridge.store.tables import deliveries, route_transitions
from ozgbridge.tenant_models import BreakerConfig
from tests.factories import new_application

GEWERBE = ("erkelenz", "gewerbe")
HUND = ("erkelenz", "hund")
FAST_BREAKER = BreakerConfig(failures=2, cooldown=0.3, max_cooldown=1)


async def accept(engine: AsyncEngine, route: tuple[str, str], count: int) -> list[str]:
    repo = Repository(engine)
    ids = []
    for _ in range(count):
        new = new_application(tenant_id=route[0], route_id=route[1])
        await repo.accept(new)
        ids.append(new.delivery_id)
    return ids


@pytest.fixture
async def second_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Another process's view of the same database: its own engine, its own connections."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def failed(queue: DeliveryQueue, claimed: ClaimedDelivery, worker: str) -> None:
    result = AttemptResult(
        AttemptOutcome.RETRIABLE, utcnow(), 503, "HTTP 503 from back-end", retry_at=utcnow()
    )
    assert await queue.record(claimed, worker, result)


async def delivery_rows(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        return {r.id: r for r in await conn.execute(select(deliveries))}


async def test_a_paused_route_is_skipped_and_waiting_costs_nothing(
    engine: AsyncEngine, second_engine: AsyncEngine
) -> None:
    paused_ids = await accept(engine, GEWERBE, 3)
    other_ids = await accept(engine, HUND, 2)
    await RouteStore(engine).pause(GEWERBE, actor="key:op", reason="Wartung")

    # Another process (its own engine and queue) sees the pause too.
    claimed = await DeliveryQueue(second_engine).claim("w2", limit=10, lease_seconds=60)

    assert sorted(c.id for c in claimed) == sorted(other_ids)
    rows = await delivery_rows(engine)
    for delivery_id in paused_ids:
        assert (rows[delivery_id].state, rows[delivery_id].attempts, rows[delivery_id].rung) == (
            DeliveryState.PENDING,
            0,
            0,
        )
    queue = DeliveryQueue(second_engine)
    assert await queue.claim("w2", limit=10, lease_seconds=60) == []
    assert GEWERBE in queue.hint.blocked
    # Due now on the paused route does not count; next is the others' lease running out.
    next_due = await queue.next_due_at(exclude=queue.hint.blocked)
    assert next_due is not None
    assert (next_due - utcnow()).total_seconds() > 50

    change = await RouteStore(engine).resume(GEWERBE, actor="key:op")
    resumed = await queue.claim("w2", limit=10, lease_seconds=60)

    assert (change.before, change.after) == (RouteState.PAUSED, RouteState.ACTIVE)
    assert sorted(c.id for c in resumed) == sorted(paused_ids)
    assert {c.rung for c in resumed} == {1}
    async with engine.connect() as conn:
        states = [(r.from_state, r.to_state) for r in await conn.execute(select(route_transitions))]
    assert states == [("active", "paused"), ("paused", "active")]


async def test_breaker_opens_then_lets_exactly_one_probe_through_across_claimers(
    engine: AsyncEngine, second_engine: AsyncEngine
) -> None:
    policies = {GEWERBE: RoutePolicy(breaker=FAST_BREAKER)}
    ids = await accept(engine, GEWERBE, 6)
    queue_a = DeliveryQueue(engine, policies=policies)
    queue_b = DeliveryQueue(second_engine, policies=policies)

    first = await queue_a.claim("a", limit=2, lease_seconds=60)
    for claimed in first:
        await failed(queue_a, claimed, "a")
    assert await queue_a.claim("a", limit=10, lease_seconds=60) == []  # open
    assert queue_a.hint.wake_at is not None

    await asyncio.sleep(0.35)  # the cool-down (0.3 s) is over
    claimers = [(queue_a, "a"), (queue_b, "b"), (queue_a, "a2"), (queue_b, "b2")]
    claims = await asyncio.gather(*(q.claim(n, limit=10, lease_seconds=60) for q, n in claimers))

    taken = [(c, name) for batch, (_q, name) in zip(claims, claimers, strict=True) for c in batch]
    assert len(taken) == 1
    [(probe, prober)] = taken
    assert probe.probe
    assert probe.id in ids
    async with engine.connect() as conn:
        states = [(r.from_state, r.to_state) for r in await conn.execute(
            select(route_transitions).order_by(route_transitions.c.at))]  # fmt: skip
    assert states == [("active", "open"), ("open", "half-open")]

    # The probe fails: open again for twice as long, and the probe keeps its rung.
    await queue_a.record(
        probe,
        prober,
        AttemptResult(
            AttemptOutcome.RETRIABLE, utcnow(), 503, "HTTP 503", retry_at=utcnow(), keeps_rung=True
        ),
    )
    row = (await delivery_rows(engine))[probe.id]
    assert (row.state, row.rung, row.attempts) == (
        DeliveryState.PENDING,
        probe.rung - 1,
        probe.attempt,
    )
    assert await queue_b.claim("b", limit=10, lease_seconds=60) == []
    await asyncio.sleep(0.3)
    assert await queue_b.claim("b", limit=10, lease_seconds=60) == []  # now 0.6 s
    await asyncio.sleep(0.35)
    [second_probe] = await queue_b.claim("b", limit=10, lease_seconds=60)

    await queue_b.record(second_probe, "b", AttemptResult(AttemptOutcome.DELIVERED, utcnow(), 200))
    rest = await queue_a.claim("a", limit=10, lease_seconds=60)

    assert len(rest) == 5  # closed: the other five, including the two that failed first
    async with engine.connect() as conn:
        newest_first = select(route_transitions).order_by(route_transitions.c.at.desc())
        last = (await conn.execute(newest_first.limit(1))).one()
    assert (last.from_state, last.to_state, last.reason) == (
        "half-open",
        "active",
        "a delivery succeeded",
    )


async def test_max_in_flight_holds_across_claimers(
    engine: AsyncEngine, second_engine: AsyncEngine
) -> None:
    policies = {GEWERBE: RoutePolicy(max_in_flight=3)}
    await accept(engine, GEWERBE, 10)
    others = await accept(engine, HUND, 2)
    queues = [
        DeliveryQueue(engine, policies=policies),
        DeliveryQueue(second_engine, policies=policies),
    ]

    claims = await asyncio.gather(
        *(queues[i % 2].claim(f"w{i}", limit=10, lease_seconds=60) for i in range(4))
    )
    taken = [c for batch in claims for c in batch]

    assert sum(c.route_id == "gewerbe" for c in taken) == 3
    assert {c.id for c in taken if c.route_id == "hund"} == set(others)
    # One finishes: one more may start.
    first = next(c for c in taken if c.route_id == "gewerbe")
    await queues[0].record(first, "w?", AttemptResult(AttemptOutcome.DELIVERED, utcnow(), 200))
    assert len(await queues[1].claim("w9", limit=10, lease_seconds=60)) == 1


async def test_rate_limit_holds_across_claimers(
    engine: AsyncEngine, second_engine: AsyncEngine
) -> None:
    policies = {GEWERBE: RoutePolicy(rate_limit=2)}
    await accept(engine, GEWERBE, 10)
    queues = [
        DeliveryQueue(engine, policies=policies),
        DeliveryQueue(second_engine, policies=policies),
    ]

    # The bounds below follow from the clock, not from fixed sleeps, so that a slow machine
    # (CI, a busy VM) cannot turn the same behaviour into a failure.
    before_burst = utcnow()
    claims = await asyncio.gather(
        *(queues[i % 2].claim(f"w{i}", limit=10, lease_seconds=60) for i in range(4))
    )
    after_burst = utcnow()
    burst = sum(len(batch) for batch in claims)
    empty = await queues[0].claim("w", limit=10, lease_seconds=60)
    wake = queues[0].hint.wake_at
    await asyncio.sleep(0.6)  # a little over one token's worth (0.5 s)
    before_later = utcnow()
    later = await queues[1].claim("w", limit=10, lease_seconds=60)
    after_later = utcnow()

    assert burst == 2
    assert empty == []
    assert wake is not None
    # The next token comes half a second after the burst took the two there were.
    slack = timedelta(milliseconds=50)  # the database's clock reads the transaction's start
    assert before_burst + timedelta(seconds=0.5) - slack <= wake
    assert wake <= after_burst + timedelta(seconds=0.5) + slack
    # One token per half second since the burst, two at most (the bucket's size).
    fewest = int((before_later - after_burst).total_seconds() / 0.5)
    most = min(2, int((after_later - before_burst).total_seconds() / 0.5))
    assert max(1, fewest) <= len(later) <= most
