"""PostgreSQL LISTEN/NOTIFY as a wake-up hint for workers in other processes.

Only a hint: workers poll anyway, so a lost notification (listener reconnecting, PgBouncer in
transaction mode where LISTEN does not work — turn it off with OZGBRIDGE_PG_NOTIFY=false) costs at
most one poll interval, never a delivery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "ozgbridge_deliveries"
logger = structlog.get_logger("ozgbridge.notify")


async def notify_in(conn: AsyncConnection) -> None:
    """Queue a notification inside the caller's transaction; PostgreSQL sends it on commit."""
    await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def asyncpg_dsn(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(
    database_url: str, on_notify: Callable[[], None], *, retry_after: float = 5.0
) -> None:
    """Call ``on_notify`` for every notification until cancelled; reconnects after failures."""
    dsn = asyncpg_dsn(database_url)
    while True:
        try:
            await _listen_once(dsn, on_notify)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            logger.warning("notify.connect_failed", error=type(exc).__name__, retry_in=retry_after)
        else:
            logger.warning("notify.connection_lost", retry_in=retry_after)
        await asyncio.sleep(retry_after)


async def _listen_once(dsn: str, on_notify: Callable[[], None]) -> None:
    """Listen on one connection until the server closes it."""
    conn = await asyncpg.connect(dsn, timeout=10)
    closed = asyncio.Event()
    conn.add_termination_listener(lambda _conn: closed.set())
    try:
        await conn.add_listener(CHANNEL, lambda *_args: on_notify())
        logger.info("notify.listening", channel=CHANNEL)
        await closed.wait()
    finally:
        if not conn.is_closed():
            await conn.close(timeout=5)
