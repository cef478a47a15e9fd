"""Intake: applications accepted per second through the API vs a bare durable INSERT+COMMIT loop
(the ceiling) and a bare aiohttp server doing that INSERT per request (the second ceiling)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import aiosqlite
import asyncpg

from tests.benchmarks import bare_intake_server
from tests.benchmarks.common import (
    REPOSITORY,
    Database,
    Ozgbridge,
    Printer,
    Row,
    api_processes,
    application_body,
    cpu_seconds,
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


async def _execute(database: Database, statement: str) -> None:
    if database.engine == "postgresql":
        conn = await asyncpg.connect(database.dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
        return
    async with aiosqlite.connect(database.url.split("///", 1)[1]) as conn:
        await conn.execute(statement)
        await conn.commit()


async def bare_http_rate(
    database: Database, body: bytes, *, processes: int, concurrency: int, count: int
) -> tuple[float, float]:
    """The second ceiling: ``processes`` bare aiohttp servers sharing a port, each request one
    INSERT + COMMIT of its body (tests.benchmarks.bare_intake_server), under the same load; and
    their CPU seconds per request."""
    await _execute(database, bare_intake_server.CREATE_TABLE)
    target = database.dsn if database.engine == "postgresql" else database.url.split("///", 1)[1]
    assert target is not None
    port = free_port()
    servers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.benchmarks.bare_intake_server",
            database.engine,
            target,
            str(port),
            cwd=REPOSITORY,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    try:
        async with asyncio.timeout(60):
            for server in servers:
                assert server.stdout is not None
                if (await server.stdout.readline()).strip() != b"ready":
                    raise RuntimeError("bare intake server did not start")
        url = f"http://127.0.0.1:{port}"
        await submit_load(url, body, count=min(count, 200), concurrency=concurrency)
        pids = [server.pid for server in servers]
        before = cpu_seconds(pids)
        rate = (await submit_load(url, body, count=count, concurrency=concurrency)).rate
        return rate, (cpu_seconds(pids) - before) / count
    finally:
        for server in servers:
            if server.returncode is None:
                server.terminate()
            await server.wait()
        await _execute(database, f"DROP TABLE {bare_intake_server.TABLE}")


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
                    api = [process.pid for process in server.processes]
                    before = cpu_seconds(api)
                    result = await submit_load(url, body, count=count, concurrency=concurrency)
                    api_cpu = (cpu_seconds(api) - before) / count
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
                bare_http, bare_cpu = await bare_http_rate(
                    database,
                    body,
                    processes=api_processes(engine),
                    concurrency=concurrency,
                    count=count,
                )
            emit(
                Row(
                    f"intake {label}, c={concurrency}",
                    "applications/s",
                    result.rate,
                    f"p50 {percentile(result.latencies, 0.5) * 1000:.1f} ms, "
                    f"p99 {percentile(result.latencies, 0.99) * 1000:.1f} ms, "
                    f"api --processes {api_processes(engine)}; ceiling: bare INSERT loop (best "
                    f"of {CEILING_RUNS}); alt: bare aiohttp server, one INSERT per request "
                    f"({bare_http / ceiling:.2f} of the ceiling; intake "
                    f"{result.rate / bare_http:.2f} of it); CPU per application: api "
                    f"{api_cpu * 1000:.3f} ms, bare server {bare_cpu * 1000:.3f} ms",
                    ceiling,
                    result.rate / ceiling,
                    alt_ceiling=bare_http,
                )
            )
