"""Intake: applications accepted per second through the API vs a bare durable INSERT+COMMIT loop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiosqlite
import asyncpg

from tests.benchmarks.common import (
    Database,
    Ozgbridge,
    Printer,
    api_processes,
    application_body,
    free_port,
    fresh_database,
    percentile,
    submit_load,
    write_config,
)

CEILING_RUNS = 3


async def bare_insert_rate(database: Database, *, concurrency: int, count: int, size: int) -> float:
    """The limit for durable intake: one INSERT + COMMIT per row, same concurrency, same bytes."""
    payload = os.urandom(size)
    numbers = iter(range(count))
    if database.engine == "postgresql":
        pool = await asyncpg.create_pool(database.dsn, min_size=concurrency, max_size=concurrency)
        await pool.execute("CREATE TABLE IF NOT EXISTS bare (id bigint PRIMARY KEY, payload bytea)")

        async def pg_loop() -> None:
            async with pool.acquire() as conn:
                for n in numbers:
                    await conn.execute("INSERT INTO bare VALUES ($1, $2)", n, payload)

        started = time.perf_counter()
        await asyncio.gather(*(pg_loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        await pool.execute("DROP TABLE bare")
        await pool.close()
        return count / elapsed
    path = database.url.split("///", 1)[1]
    connections = []
    for _ in range(concurrency):
        conn = await aiosqlite.connect(path, timeout=30, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            await conn.execute(f"PRAGMA {pragma}")
        connections.append(conn)
    await connections[0].execute("CREATE TABLE IF NOT EXISTS bare (id INTEGER PRIMARY KEY, p BLOB)")

    async def sqlite_loop(conn: aiosqlite.Connection) -> None:
        for n in numbers:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO bare VALUES (?, ?)", (n, payload))
            await conn.execute("COMMIT")

    started = time.perf_counter()
    await asyncio.gather(*(sqlite_loop(c) for c in connections))
    elapsed = time.perf_counter() - started
    await connections[0].execute("DROP TABLE bare")
    for conn in connections:
        await conn.close()
    return count / elapsed


async def run(engine: str, workdir: Path, emit: Printer, *, quick: bool) -> None:
    cases = [("1 KB form", 0), ("+200 KB attachment", 200 * 1024)]
    for label, attachment in cases:
        body = application_body(attachment)
        for concurrency in (1, 16, 64):
            count = {1: 300, 16: 1500, 64: 3000}[concurrency]
            if attachment:
                count //= 3
            if quick:
                count //= 5
            async with fresh_database(engine, workdir) as database:
                server = Ozgbridge(database, write_config(workdir / f"cfg-{engine}", None), workdir)
                try:
                    url = await server.start(
                        "api", free_port(), ("--processes", str(api_processes(engine)))
                    )
                    assert url is not None
                    await submit_load(url, body, count=min(count, 200), concurrency=concurrency)
                    result = await submit_load(url, body, count=count, concurrency=concurrency)
                finally:
                    server.stop()
                # The best of a few runs, as for delivery: the highest is the honest ceiling.
                ceiling = max(
                    [
                        await bare_insert_rate(
                            database, concurrency=concurrency, count=count, size=len(body)
                        )
                        for _ in range(CEILING_RUNS)
                    ]
                )
            emit(
                (
                    f"intake {label}, c={concurrency}",
                    "applications/s",
                    result.rate,
                    f"p50 {percentile(result.latencies, 0.5) * 1000:.1f} ms, "
                    f"p99 {percentile(result.latencies, 0.99) * 1000:.1f} ms, "
                    f"api --processes {api_processes(engine)}; ceiling best of {CEILING_RUNS}",
                    ceiling,
                    result.rate / ceiling,
                )
            )
