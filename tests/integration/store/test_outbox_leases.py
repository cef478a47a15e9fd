"""A portal event whose send outlasts its lease keeps it: no second worker sends it meanwhile."""

from __future__ import annotations

import asyncio
from typing import cast

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.connector import Receipt
from ozgbridge.events.dispatcher import EventDispatcher
from ozgbridge.events.sender import PortalSender
from ozgbridge.settings import Settings
from ozgbridge.store.outbox import ClaimedEvent, EventOutbox
from ozgbridge.store.outbox_views import EventLog
from tests.integration.store.test_outbox import applications, enqueue


class SlowPortal:
    """Answers each event after ``seconds``; notes who was asked to send what."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent: list[str] = []

    async def send(self, event: ClaimedEvent) -> Receipt:
        self.sent.append(event.id)
        await asyncio.sleep(self.seconds)
        return Receipt(status_code=204)

    def schedule(self, key_id: str) -> list[float] | None:
        return None


def dispatcher(engine: AsyncEngine, portal: SlowPortal, worker_id: str) -> EventDispatcher:
    settings = Settings(
        database_url=str(engine.url),
        lease_seconds=1.5,
        delivery_timeout=1,
        poll_interval=0.05,
    )
    return EventDispatcher(
        settings=settings,
        outbox=EventOutbox(engine),
        sender=cast(PortalSender, portal),
        worker_id=worker_id,
    )


async def test_a_slow_send_keeps_its_lease(engine: AsyncEngine) -> None:
    [application_id] = await applications(engine, 1)
    [event_id] = await enqueue(engine, application_id, "confirmed")
    slow, other = SlowPortal(3.5), SlowPortal(0)
    loops = [dispatcher(engine, slow, "slow")]
    running = [asyncio.create_task(loops[0].run())]
    try:
        while not slow.sent:
            await asyncio.sleep(0.02)
        loops.append(dispatcher(engine, other, "other"))
        running.append(asyncio.create_task(loops[1].run()))
        async with asyncio.timeout(20):
            while True:
                [view] = await EventLog(engine).listing(application_id=application_id)
                if view.state == "delivered":
                    break
                await asyncio.sleep(0.05)
    finally:
        for task, loop in zip(running, loops, strict=True):
            loop.stop()
            await task

    assert slow.sent == [event_id]
    assert other.sent == []  # the lease (1.5 s) was renewed through the 3.5 s send
    assert view.attempts == 1
