"""API keys' last use, kept in memory per process and written every few seconds, not per request.

A request only updates a dict entry; a background task of the API writes what changed every
``OZGBRIDGE_KEY_USAGE_FLUSH_SECONDS`` (and once more at shutdown), so "last used" costs one
statement per interval, however many requests there were. Operators read it with
``ozgbridge keys list``; it may lag by one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.api.state import REPOSITORY, SETTINGS
from ozgbridge.domain import utcnow
from ozgbridge.store.key_usage import record_key_usage

log = structlog.get_logger("ozgbridge.api.key_usage")


class KeyUsage:
    def __init__(self) -> None:
        self._pending: dict[str, datetime] = {}

    def touch(self, key_id: str, at: datetime | None = None) -> None:
        self._pending[key_id] = at or utcnow()

    @property
    def pending(self) -> dict[str, datetime]:
        return dict(self._pending)

    async def flush(self, engine: AsyncEngine) -> int:
        """Write what was used since the last flush; on failure it is kept for the next one."""
        pending, self._pending = self._pending, {}
        try:
            await record_key_usage(engine, pending)
        except BaseException:
            for key_id, at in pending.items():  # a newer use meanwhile wins
                self._pending.setdefault(key_id, at)
            raise
        return len(pending)


KEY_USAGE = web.AppKey("key_usage", KeyUsage)


async def _flush_logged(usage: KeyUsage, engine: AsyncEngine) -> None:
    try:
        await usage.flush(engine)
    except Exception:
        log.exception("auth.key_usage_flush_failed")


async def flush_periodically(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the flushing task lives as long as the application."""
    usage, engine = app[KEY_USAGE], app[REPOSITORY].engine
    interval = app[SETTINGS].key_usage_flush_seconds

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            await _flush_logged(usage, engine)

    task = asyncio.create_task(loop(), name="key-usage-flush")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await _flush_logged(usage, engine)
