"""SQLite runs on the event loop's thread (store/sqlite_inline.py): what that must not cost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from ozgbridge.store import sqlite_inline
from ozgbridge.store.engine import create_engine


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "inline.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (n INTEGER, blob BLOB)")
    return path


async def ticking(stop: asyncio.Event) -> int:
    ticks = 0
    while not stop.is_set():
        await asyncio.sleep(0.005)
        ticks += 1
    return ticks


async def test_waiting_for_another_process_lock_keeps_the_loop_running(database: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    other = sqlite3.connect(database, isolation_level=None)  # another process's connection
    other.execute("BEGIN IMMEDIATE")
    stop = asyncio.Event()
    ticker = asyncio.create_task(ticking(stop))

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (n) VALUES (1)"))

    writer = asyncio.create_task(write())
    await asyncio.sleep(0.4)
    assert not writer.done()  # it waits for the lock…
    other.execute("COMMIT")
    await asyncio.wait_for(writer, 5)
    stop.set()
    # …while the loop goes on: a blocking busy handler would have frozen the ticker for 0.4 s
    assert await ticker >= 30
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    other.close()
    await engine.dispose()


async def test_a_lock_held_too_long_is_an_error_not_a_hang(database: Path) -> None:
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    conn = await sqlite_inline.connect(str(database), busy_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await conn.execute("BEGIN IMMEDIATE")
    assert 0.25 <= time.monotonic() - started < 3
    other.execute("ROLLBACK")
    await conn.execute("BEGIN IMMEDIATE")  # free now
    await conn.execute("ROLLBACK")
    await conn.close()
    other.close()


async def test_small_calls_run_inline_and_large_values_on_a_thread(database: Path) -> None:
    conn = await sqlite_inline.connect(str(database), busy_timeout=1)
    await conn.create_function("thread_id", 0, threading.get_ident)
    small = await conn.execute("SELECT thread_id(), ?", (b"x" * 100,))
    large = await conn.execute(
        "SELECT thread_id(), length(?)", (b"x" * (sqlite_inline.OFFLOAD_BYTES + 1),)
    )
    small_thread = (await small.fetchone())[0]  # type: ignore[index]
    large_thread, length = await large.fetchone()  # type: ignore[misc]
    assert small_thread == threading.get_ident()
    assert large_thread != threading.get_ident()
    assert length == sqlite_inline.OFFLOAD_BYTES + 1
    await conn.close()
