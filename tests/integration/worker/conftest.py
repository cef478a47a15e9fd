"""The `start_worker` fixture: workers on a real database, stopped at the end of the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.connector import Connector
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.settings import Settings
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import load_deployment
from ozgbridge.worker import Worker
from tests.integration.worker.support import FAST, MakeWorker, write_config


@pytest.fixture
async def start_worker(
    engine: AsyncEngine, tmp_path: Path, sealer: Sealer
) -> AsyncIterator[MakeWorker]:
    running: list[tuple[Worker, asyncio.Task[None]]] = []

    async def make(
        connector: Connector[Any],
        *,
        retry_schedule: list[float] = FAST,
        worker_id: str = "w1",
        **settings: Any,
    ) -> Worker:
        config = write_config(tmp_path / worker_id, retry_schedule)
        values: dict[str, Any] = {
            "poll_interval": 0.05,
            "retry_jitter": 0,
            "delivery_timeout": 1,
            "lease_seconds": 5,
        }
        values.update(settings)
        worker = Worker(
            settings=Settings(**values),
            deployment=load_deployment(config),
            repository=Repository(engine, sealer=sealer),
            queue=DeliveryQueue(engine, sealer=sealer),
            connectors={("erkelenz", "gewerbe"): connector},
            worker_id=worker_id,
        )
        running.append((worker, asyncio.create_task(worker.run())))
        return worker

    yield make
    for worker, _task in running:
        worker.stop()
    await asyncio.gather(*(task for _, task in running))
    # As a service does at shutdown: the configuration's connectors (their HTTP sessions) close.
    await asyncio.gather(*(worker.live.aclose() for worker, _ in running))
