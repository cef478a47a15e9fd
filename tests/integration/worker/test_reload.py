"""Reloading the configuration under a running worker, on both engines.

A delivery claimed before the reload finishes with the configuration it started with (same
connector, still open); deliveries claimed after use the new one; the old connectors are closed
once nothing uses them. An invalid configuration is refused and the running one stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, runtime
from ozgbridge.domain import ApplicationStatus
from ozgbridge.live import LiveConfig
from ozgbridge.settings import Settings
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import audit_events
from ozgbridge.tenants import token_sha256
from ozgbridge.worker import Worker
from tests.factories import new_application
from tests.integration.worker.support import settled


class Inbox:
    """A back-end that can hold its answers until told to let them go."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.received: list[bytes] = []
        self.arrived = asyncio.Event()
        self.hold = asyncio.Event()
        self.hold.set()
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(await request.read())
        self.arrived.set()
        await self.hold.wait()
        return web.json_response({"id": f"{self.name}-{len(self.received)}"})


@pytest.fixture
async def inboxes() -> AsyncIterator[tuple[Inbox, Inbox]]:
    pair = (Inbox("A"), Inbox("B"))
    app = web.Application()
    for inbox in pair:
        app.router.add_post(f"/{inbox.name}", inbox.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    for inbox in pair:
        inbox.url = f"http://127.0.0.1:{port}/{inbox.name}"
    yield pair
    for inbox in pair:
        inbox.hold.set()
    await runner.cleanup()


def write_config(root: Path, url: str) -> None:
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
                "options": {"url": url},
                "retry_schedule": [0, 0.05],
            }
        ],
    }
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant), encoding="utf-8")
    keys = {"keys": [{"id": "portal", "role": "portal", "sha256": token_sha256("t")}]}
    (root / "keys.yaml").write_text(yaml.safe_dump(keys), encoding="utf-8")


@pytest.fixture
async def setup(
    engine: AsyncEngine, tmp_path: Path, inboxes: tuple[Inbox, Inbox]
) -> AsyncIterator[tuple[LiveConfig, Worker, Path]]:
    config = tmp_path / "config"
    write_config(config, inboxes[0].url)
    settings = Settings(
        config_dir=config,
        data_dir=tmp_path,
        poll_interval=0.05,
        retry_jitter=0,
        delivery_timeout=10,
        lease_seconds=30,
    )

    async def load() -> runtime.Runtime:
        return await runtime.build(runtime.load(settings), settings, worker=True)

    async def record(actor: str, action: str, details: dict[str, Any]) -> None:
        await audit.record(engine, audit.AuditEvent(actor, action, details=details))

    live = LiveConfig(await load(), loader=load, auditor=record)
    worker = Worker(
        settings=settings,
        live=live,
        repository=Repository(engine),
        queue=DeliveryQueue(engine),
        worker_id="w-reload",
    )
    task = asyncio.create_task(worker.run())
    yield live, worker, config
    worker.stop()
    await task
    await live.aclose()


async def test_in_flight_delivery_finishes_with_the_configuration_it_started_with(
    engine: AsyncEngine,
    inboxes: tuple[Inbox, Inbox],
    setup: tuple[LiveConfig, Worker, Path],
) -> None:
    a, b = inboxes
    live, _worker, config = setup
    repo = Repository(engine)
    a.hold.clear()  # A takes the request but does not answer yet
    first = new_application()
    await repo.accept(first)
    async with asyncio.timeout(10):
        await a.arrived.wait()
    before = live.runtime
    old_connector = before.connectors[("erkelenz", "gewerbe")]

    write_config(config, b.url)  # the route now points at B
    result = await live.reload(actor="test")
    assert result.ok
    assert result.changed
    assert live.runtime is not before
    assert before.users == 1  # the attempt at A still holds the old configuration

    second = new_application()
    await repo.accept(second)
    view = await settled(repo, second.id)
    assert view.deliveries[0].remote_reference == "B-1"

    a.hold.set()
    view = await settled(repo, first.id)
    assert view.status == ApplicationStatus.DELIVERED
    assert view.deliveries[0].remote_reference == "A-1"  # not re-sent to B, not cut off
    assert len(a.received) == 1
    assert len(b.received) == 1
    # Once the last attempt on it ended, the old configuration's connectors were closed.
    async with asyncio.timeout(5):
        while not before._closed:
            await asyncio.sleep(0.01)
    assert live.runtime.connectors[("erkelenz", "gewerbe")] is not old_connector


async def test_an_invalid_configuration_is_refused_and_the_running_one_stays(
    engine: AsyncEngine,
    inboxes: tuple[Inbox, Inbox],
    setup: tuple[LiveConfig, Worker, Path],
) -> None:
    _a, _b = inboxes
    live, _worker, config = setup
    running = live.runtime
    tenant_file = config / "tenants" / "erkelenz.yaml"
    tenant_file.write_text(
        tenant_file.read_text(encoding="utf-8").replace("05370004", "05370005"), encoding="utf-8"
    )

    result = await live.reload(actor="test")

    assert not result.ok
    assert live.runtime is running
    [problem] = result.problems
    assert problem.file.endswith("tenants/erkelenz.yaml")
    assert problem.field == "ags"
    assert "does not exist" in problem.message
    # Deliveries go on with the running configuration.
    repo = Repository(engine)
    new = new_application()
    await repo.accept(new)
    view = await settled(repo, new.id)
    assert view.deliveries[0].remote_reference == "A-1"
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_events.c.action, audit_events.c.details).where(
                    audit_events.c.action == "config.reload_refused"
                )
            )
        ).all()
    [(_action, details)] = rows
    assert "ags: region 05370005 / 053700005005 does not exist" in str(details)


async def test_an_unexpected_failure_while_loading_is_a_refusal(
    setup: tuple[LiveConfig, Worker, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, _worker, _config = setup
    running = live.runtime

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(runtime, "load_deployment", broken)
    result = await live.reload(actor="test")

    assert not result.ok
    assert live.runtime is running
    assert (
        str(result.problems[0]) == "cannot be loaded: PermissionError: [Errno 13] Permission denied"
    )
