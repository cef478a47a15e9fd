"""LISTEN/NOTIFY wake-ups on PostgreSQL: a committed application wakes listeners elsewhere."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from ozgbridge import audit
from ozgbridge.store.engine import create_engine
from ozgbridge.store.notify import CHANNEL, listen
from ozgbridge.store.repository import Repository
from tests.factories import new_application

pytestmark = pytest.mark.postgres


async def test_accept_wakes_listeners_only_when_enabled(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    woken = asyncio.Queue[None]()
    listener = asyncio.create_task(listen(postgres_url, lambda: woken.put_nowait(None)))
    try:
        # the listener is up once a notification sent now arrives
        async with asyncio.timeout(10):
            while woken.empty():
                await Repository(engine, notify=True).accept(new_application())
                await asyncio.sleep(0.1)
        while not woken.empty():
            woken.get_nowait()

        await Repository(engine, notify=False).accept(new_application())
        await Repository(engine, notify=True).accept(new_application())
        async with asyncio.timeout(5):
            await woken.get()
        await asyncio.sleep(0.2)  # room for a (wrong) second notification to arrive

        assert woken.empty(), "the notify=False acceptance must not have woken anyone"
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await engine.dispose()


async def test_sqlite_repository_never_notifies(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    assert Repository(engine, notify=True).notify is False
    await engine.dispose()


async def test_audit_append_notifies_on_commit_only(postgres_url: str) -> None:
    """The wake-up intake queues with the audit chain's lock (audit.append(notify=…)): it is
    sent when the transaction commits, never for one rolled back."""
    engine = create_engine(postgres_url)
    woken = asyncio.Queue[None]()
    listener = asyncio.create_task(listen(postgres_url, lambda: woken.put_nowait(None)))
    event = audit.AuditEvent("test", "test.notify")
    try:
        async with asyncio.timeout(10):
            while woken.empty():
                async with engine.begin() as conn:
                    await audit.append(conn, event, notify=CHANNEL)
                await asyncio.sleep(0.1)
        while not woken.empty():
            woken.get_nowait()

        with contextlib.suppress(RuntimeError):
            async with engine.begin() as conn:
                await audit.append(conn, event, notify=CHANNEL)
                raise RuntimeError("rolled back")
        await asyncio.sleep(0.5)  # room for a (wrong) notification to arrive
        assert woken.empty(), "a rolled-back append must not wake anyone"

        async with engine.begin() as conn:
            await audit.append(conn, event, notify=CHANNEL)
        async with asyncio.timeout(5):
            await woken.get()
        assert (await audit.verify(engine)).ok
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await engine.dispose()
