"""The intake benchmark's second ceiling stores every body it answers 202 for, once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import aiosqlite
import asyncpg
import pytest

from tests.benchmarks import bare_intake_server
from tests.benchmarks.bench_intake import bare_http_rate
from tests.benchmarks.common import REPOSITORY, Database, cpu_seconds, free_port, fresh_database


async def _stored(database: Database) -> list[bytes]:
    query = f"SELECT payload FROM {bare_intake_server.TABLE} ORDER BY id"
    if database.engine == "postgresql":
        conn = await asyncpg.connect(database.dsn)
        try:
            return [row[0] for row in await conn.fetch(query)]
        finally:
            await conn.close()
    async with aiosqlite.connect(database.url.split("///", 1)[1]) as conn:
        return [row[0] async for row in await conn.execute(query)]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_each_answered_body_is_stored(engine: str, tmp_path: Path) -> None:
    async with fresh_database(engine, tmp_path) as database:
        target = database.dsn if engine == "postgresql" else database.url.split("///", 1)[1]
        assert target is not None
        if engine == "postgresql":
            conn = await asyncpg.connect(database.dsn)
            await conn.execute(bare_intake_server.CREATE_TABLE)
            await conn.close()
        else:
            async with aiosqlite.connect(target) as conn:
                await conn.execute(bare_intake_server.CREATE_TABLE)
                await conn.commit()
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.benchmarks.bare_intake_server",
            engine,
            target,
            str(port),
            cwd=REPOSITORY,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert server.stdout is not None
            assert await asyncio.wait_for(server.stdout.readline(), 30) == b"ready\n"
            bodies = [json.dumps({"n": n}).encode() for n in range(3)]
            ids = set()
            async with aiohttp.ClientSession() as session:
                for body in bodies:
                    url = f"http://127.0.0.1:{port}/v1/applications"
                    async with session.post(url, data=body) as answer:
                        assert answer.status == 202
                        ids.add((await answer.json())["id"])
        finally:
            server.terminate()
            await server.wait()
        assert len(ids) == 3
        assert await _stored(database) == bodies


async def test_rate_is_measured_and_its_table_dropped(tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as database:
        rate, cpu_per_request = await bare_http_rate(
            database, b"{}", processes=1, concurrency=2, count=20
        )
        assert rate > 0
        assert 0 <= cpu_per_request < 1  # seconds; 20 requests may all fall within one tick
        async with aiosqlite.connect(database.url.split("///", 1)[1]) as conn:
            tables = [row[0] async for row in await conn.execute("SELECT name FROM sqlite_master")]
        assert bare_intake_server.TABLE not in tables


# A grandchild burns 0.3 s of CPU, then waits for its standard input to close.
BURN = (
    "import sys, time\n"
    "end = time.process_time() + 0.3\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    "sys.stdin.read()\n"
)
PARENT = (
    f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {BURN!r}], stdin=sys.stdin)\n"
)


def test_cpu_seconds_counts_a_process_and_its_children() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds([parent.pid]) < 0.25:  # the grandchild's burn, seen through its parent
            assert time.monotonic() < deadline, "no CPU seen in 20 s"
            time.sleep(0.05)
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        parent.wait(10)
