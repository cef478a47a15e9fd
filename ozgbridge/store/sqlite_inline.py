"""SQLite on the event loop's own thread: aiosqlite's connection without its thread hop.

Why: aiosqlite runs every call (each statement, each fetch, the commit) on a thread of its own and
hands the result back through the event loop. The statement itself takes microseconds; the two
thread switches around it take about a millisecond on a busy 2-core machine, because the loop
thread holds the GIL while it does HTTP and JSON work. A delivery's few statements thus cost more
than everything else it does: measured with `./dev bench`, the worker spent its time waiting for
those hand-overs, not working. Here each call runs where it is made — statements on a local file
are short, and the commit's fsync is one `fdatasync` of the WAL — except calls that carry large
values (a big attachment's bytes), which still go to a thread so they cannot stall the loop.

Waiting for the write lock held by another process (`ozgbridge api` and `worker` on one file)
must not block the loop either: the connection has no busy timeout, and a statement refused with
SQLITE_BUSY outside a transaction (that is `BEGIN IMMEDIATE`, which every transaction starts with,
see engine.py) is tried again after an asyncio sleep, for up to ``busy_timeout`` seconds.

Built on aiosqlite's `Connection` (its private ``_execute``/``_tx`` seam, which SQLAlchemy's
aiosqlite dialect also uses), so the dialect works unchanged; pyproject pins aiosqlite's minor
version for that reason, and tests/integration/store/test_sqlite_inline.py checks the seam.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

# Calls whose parameters carry more than this run on a thread (they copy that much into SQLite).
OFFLOAD_BYTES = 256 * 1024
_BUSY_PAUSES = (0.001, 0.002, 0.005, 0.01, 0.02)


class _RunAtOnce:
    """Stands in for aiosqlite's queue to its thread: runs what is put, settles its future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, path: str, *, busy_timeout: float) -> None:
        super().__init__(partial(_open, path), iter_chunk_size=64)
        self._tx = _RunAtOnce()  # type: ignore[assignment]
        self._busy_timeout = busy_timeout

    def __await__(self) -> Any:
        # no thread to start: connect right here
        return self._connect().__await__()

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if _carries_bytes(args, kwargs) > OFFLOAD_BYTES:
            return await asyncio.to_thread(fn, *args, **kwargs)
        deadline: float | None = None
        pause = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or self._connection.in_transaction:
                    raise
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self._busy_timeout
                if now >= deadline:
                    raise
            await asyncio.sleep(_BUSY_PAUSES[min(pause, len(_BUSY_PAUSES) - 1)])
            pause += 1


def _open(path: str) -> sqlite3.Connection:
    # timeout=0: no busy handler sleeping on the loop's thread (see _execute); the thread is only
    # ever one at a time (the pool holds one connection), so it may cross threads for big calls.
    return sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "database is locked" in str(exc)


def _carries_bytes(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Bytes in a call's arguments: a statement's parameters, or executemany's rows of them.
    (Runs for every statement: plain type checks, no generators.)"""
    total = 0
    for value in (*args, *kwargs.values()):
        kind = type(value)
        if kind is bytes or kind is bytearray or kind is memoryview:
            total += len(value)
        elif kind is tuple or kind is list:
            for item in value:
                kind = type(item)
                if kind is bytes or kind is bytearray or kind is memoryview:
                    total += len(item)
                elif kind is tuple or kind is list:
                    for part in item:
                        kind = type(part)
                        if kind is bytes or kind is bytearray or kind is memoryview:
                            total += len(part)
    return total


async def connect(path: str, *, busy_timeout: float) -> InlineConnection:
    """A connected `InlineConnection` (for SQLAlchemy's ``async_creator``)."""
    connection = InlineConnection(path, busy_timeout=busy_timeout)
    await connection._connect()
    return connection
