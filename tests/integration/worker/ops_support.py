"""Workers delivering over the real http connector, with route policies from a real config."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import runtime as runtimes
from ozgbridge.live import LiveConfig
from ozgbridge.ops.admission import policies_of
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import deliveries
from ozgbridge.tenants import load_deployment, token_sha256
from ozgbridge.worker import Worker
from tests.factories import new_application
from tests.integration.ops_backend import SECRET

StartWorkers = Callable[..., Awaitable[list[Worker]]]


def write_http_config(root: Path, url: str, **route: Any) -> Path:
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    tenant = {
        "id": "erkelenz",
        "name": "Stadt Erkelenz",
        "ags": "05370004",
        "routes": [
            {
                "id": "gewerbe",
                "services": ["*"],
                "connector": "http",
                "options": {"url": url, "signing_secret": "${env:OPS_TEST_SECRET}"},
                **route,
            }
        ],
    }
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant))
    keys = {"keys": [{"id": "portal-test", "role": "portal", "sha256": token_sha256("t")}]}
    (root / "keys.yaml").write_text(yaml.safe_dump(keys))
    return root


@pytest.fixture
async def start_workers(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StartWorkers]:
    """``await start_workers(config_dir, count, **settings)``: workers as separate processes
    would be — each with its own engine, queue and connectors, sharing only the database."""
    monkeypatch.setenv("OPS_TEST_SECRET", SECRET)
    running: list[tuple[Worker, asyncio.Task[None], AsyncEngine, Any]] = []

    async def start(config: Path, count: int = 1, **overrides: Any) -> list[Worker]:
        values: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": tmp_path,
            "poll_interval": 0.05,
            "retry_jitter": 0,
            "delivery_timeout": 2,
            "lease_seconds": 10,
            "worker_concurrency": 4,
        }
        values.update(overrides)
        settings = Settings(**values)
        deployment = load_deployment(config)
        workers = []
        for n in range(count):
            engine = create_engine(database_url)
            runtime = await runtimes.build(deployment, settings, worker=True)
            worker = Worker(
                settings=settings,
                live=LiveConfig(runtime),
                repository=Repository(engine),
                queue=DeliveryQueue(engine, policies=policies_of(deployment)),
                worker_id=f"w{len(running)}-{n}",
            )
            running.append((worker, asyncio.create_task(worker.run()), engine, runtime))
            workers.append(worker)
        return workers

    yield start
    for worker, _task, _engine, _connectors in running:
        worker.stop()
    await asyncio.gather(*(task for _w, task, _e, _c in running))
    for _worker, _task, engine, runtime in running:
        await runtime.close()
        await engine.dispose()


async def accept_many(engine: AsyncEngine, count: int) -> list[str]:
    repo = Repository(engine)
    ids = []
    for _ in range(count):
        new = new_application(connector="http")
        await repo.accept(new)
        ids.append(new.delivery_id)
    return ids


async def states(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
        )
        return {r[0]: r[1] for r in rows}
