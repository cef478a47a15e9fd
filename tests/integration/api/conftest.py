"""`start_api`: the aiohttp app on a real socket (127.0.0.1, free port) over a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.api.app import create_app
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import load_deployment
from tests.integration.api.support import Api, StartApi, write_config


@pytest.fixture
async def start_api(tmp_path: Path, sealer: Sealer) -> AsyncIterator[StartApi]:
    running: list[tuple[TestClient[Any, Any], AsyncEngine]] = []

    async def start(
        database_url: str,
        *,
        config_dir: Path | None = None,
        repository_class: type[Repository] = Repository,
        **settings: Any,
    ) -> Api:
        config = config_dir or write_config(tmp_path / f"config-{len(running)}")
        # Connector options are the worker's business; the API only needs tenants, routes, keys.
        deployment = load_deployment(config, check_connectors=False)
        engine = create_engine(database_url)
        wakeups: list[None] = []
        repository = repository_class(engine, sealer=sealer)
        app = create_app(
            settings=Settings(database_url=database_url, config_dir=config, **settings),
            deployment=deployment,
            repository=repository,
            router=Router(deployment),
            on_accepted=lambda: wakeups.append(None),
        )
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        running.append((client, engine))
        return Api(client=client, engine=engine, repository=repository, wakeups=wakeups)

    yield start
    for client, engine in reversed(running):
        await client.close()
        await engine.dispose()


@pytest.fixture
async def api(sqlite_url: str, start_api: StartApi) -> Api:
    """The API on SQLite: most handler behaviour does not depend on the engine."""
    return await start_api(sqlite_url)


@pytest.fixture
async def api_db(database_url: str, start_api: StartApi) -> Api:
    """The API once per engine (SQLite and PostgreSQL)."""
    return await start_api(database_url)
