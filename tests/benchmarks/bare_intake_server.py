"""A bare HTTP intake in its own process: the intake benchmark's second ceiling.

    python -m tests.benchmarks.bare_intake_server postgresql|sqlite DSN_OR_PATH PORT

Each POST's body is stored with one INSERT + COMMIT (the first ceiling's statement) into table
``bare_http``, which the caller creates (``CREATE_TABLE``), and answered 202 with a JSON id.
Nothing else: no validation, routing, sealing, audit chain or middleware. It prints ``ready``
once it listens. Several may share the port (SO_REUSEPORT), as ``ozgbridge api --processes N``
does, so the figure says how close the best this stack could do comes to the bare INSERT loop,
which pays no HTTP at all.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys

import aiosqlite
import asyncpg
from aiohttp import web

TABLE = "bare_http"
CREATE_TABLE = f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, payload bytea)"


async def _postgresql(dsn: str) -> tuple[web.Application, asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=8, max_size=64)
    numbers = itertools.count(os.getpid() << 32)

    async def store(request: web.Request) -> web.StreamResponse:
        number = next(numbers)
        await pool.execute(f"INSERT INTO {TABLE} VALUES ($1, $2)", number, await request.read())
        return web.json_response({"id": str(number)}, status=202)

    app = web.Application()
    app.router.add_post("/v1/applications", store)
    return app, pool


async def _sqlite(path: str) -> tuple[web.Application, aiosqlite.Connection]:
    # The first ceiling's settings; in autocommit mode each INSERT is its own transaction.
    conn = await aiosqlite.connect(path, timeout=30, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
        await conn.execute(f"PRAGMA {pragma}")
    numbers = itertools.count(os.getpid() << 32)

    async def store(request: web.Request) -> web.StreamResponse:
        number = next(numbers)
        await conn.execute(f"INSERT INTO {TABLE} VALUES (?, ?)", (number, await request.read()))
        return web.json_response({"id": str(number)}, status=202)

    app = web.Application()
    app.router.add_post("/v1/applications", store)
    return app, conn


async def serve(engine: str, target: str, port: int) -> None:
    if engine == "postgresql":
        app, database = await _postgresql(target)
    else:
        app, database = await _sqlite(target)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()  # until terminated
    finally:
        await runner.cleanup()
        await database.close()


if __name__ == "__main__":
    engine_name, database_target, port_text = sys.argv[1:4]
    asyncio.run(serve(engine_name, database_target, int(port_text)))
