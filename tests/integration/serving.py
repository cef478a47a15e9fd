"""A whole ozgbridge process (`run_service`: API and worker) on a free local port, for the
integration tests that need one."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ozgbridge.assembly import Service
from ozgbridge.service import run_service
from ozgbridge.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Service]:
    """The service running until the block ends; a start-up failure is raised here."""
    ready: asyncio.Future[Service] = asyncio.get_running_loop().create_future()

    async def started(service: Service) -> None:
        ready.set_result(service)

    task = asyncio.create_task(run_service(settings, api=True, worker=True, started=started))
    done, _ = await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # start-up failed: raise its error here
    service = ready.result()
    try:
        yield service
    finally:
        assert service.worker is not None
        service.worker.stop()  # run_service then shuts everything down
        await asyncio.wait_for(task, 60)
