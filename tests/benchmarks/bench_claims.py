"""Claim latency with 1,000,000 finished deliveries in the table vs an empty table."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.domain import DeliveryState, utcnow
from ozgbridge.store.engine import create_engine
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import deliveries
from tests.benchmarks.bench_delivery import fill_queue
from tests.benchmarks.common import Printer, fresh_database, median

BATCH = 16
ROUNDS = 200

_PG_SEED = """
INSERT INTO applications (id, tenant_id, leika_key, ars, ags, submitted_by, status,
    data_mime_type, data_sha256, data_size, data, received_at, updated_at)
SELECT lpad(g::text, 26, '0'), 'erkelenz', '99050012104000', '053700004004', '05370004',
    'bench', 'delivered', 'application/json', repeat('0', 64), 2, '\\x7b7d'::bytea,
    now() - g * interval '1 second', now()
FROM generate_series(1, :n) g;
INSERT INTO deliveries (id, application_id, tenant_id, route_id, connector, state, attempts,
    next_attempt_at, created_at, updated_at, delivered_at)
SELECT lpad(g::text, 26, '0'), lpad(g::text, 26, '0'), 'erkelenz', 'alles', 'http',
    'delivered', 1, now() - g * interval '1 second', now(), now(), now()
FROM generate_series(1, :n) g;
"""

_SQLITE_SEED = """
WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < :n)
INSERT INTO {table}
SELECT {columns} FROM g;
"""


async def seed_finished(engine: AsyncEngine, count: int) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for statement in _PG_SEED.strip().split(";\n"):
                await conn.execute(text(statement), {"n": count})
            await conn.execute(text("ANALYZE"))
            return
        pad = "printf('%026d', x)"
        old = "'2025-01-01 00:00:00.000000'"
        await conn.execute(
            text(
                _SQLITE_SEED.format(
                    table="applications (id, tenant_id, leika_key, ars, ags, submitted_by, "
                    "status, data_mime_type, data_sha256, data_size, data, received_at, "
                    "updated_at)",
                    columns=f"{pad}, 'erkelenz', '99050012104000', '053700004004', "
                    f"'05370004', 'bench', 'delivered', 'application/json', "
                    f"printf('%064d', 0), 2, X'7b7d', {old}, {old}",
                )
            ),
            {"n": count},
        )
        await conn.execute(
            text(
                _SQLITE_SEED.format(
                    table="deliveries (id, application_id, tenant_id, route_id, connector, "
                    "state, attempts, next_attempt_at, created_at, updated_at, delivered_at)",
                    columns=f"{pad}, {pad}, 'erkelenz', 'alles', 'http', 'delivered', 1, "
                    f"{old}, {old}, {old}, {old}",
                )
            ),
            {"n": count},
        )
        await conn.execute(text("ANALYZE"))


async def claim_latency(engine: AsyncEngine) -> float:
    """Median seconds for one claim of BATCH due deliveries (they are put back between rounds)."""
    queue = DeliveryQueue(engine)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        claimed = await queue.claim("bench", limit=BATCH, lease_seconds=60)
        samples.append(time.perf_counter() - started)
        assert len(claimed) == BATCH, len(claimed)
        async with engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([c.id for c in claimed]))
                .values(state=DeliveryState.PENDING, next_attempt_at=utcnow(), lease_owner=None)
            )
    return median(samples)


async def run(engine_name: str, workdir: Path, emit: Printer, *, quick: bool) -> None:
    finished = 100_000 if quick else 1_000_000
    results = {}
    for label, rows in (("empty", 0), ("full", finished)):
        async with fresh_database(engine_name, workdir) as database:
            engine = create_engine(database.url)
            try:
                if rows:
                    seeded = time.perf_counter()
                    await seed_finished(engine, rows)
                    seed_seconds = time.perf_counter() - seeded
                await fill_queue(database.url, BATCH)
                results[label] = await claim_latency(engine)
            finally:
                await engine.dispose()
    ratio = results["full"] / results["empty"]
    emit(
        (
            f"claim of {BATCH}, {finished:,} finished rows vs empty",
            "ms (median of 200)",
            results["full"] * 1000,
            f"empty table {results['empty'] * 1000:.2f} ms; seeding took {seed_seconds:.0f} s; "
            "target ratio <= 1.5",
            results["empty"] * 1000,
            ratio,
        )
    )


__all__ = ["Repository", "asyncio", "run"]
