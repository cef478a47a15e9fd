"""The dashboard with the example deployment, for the deliveries and routes pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.api.app import create_app
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import load_deployment
from tests.integration.api.support import token, write_config


@dataclass
class OpsUi:
    client: TestClient[Any, Any]
    engine: AsyncEngine
    base_url: str

    async def sign_in(self, key_id: str) -> None:
        response = await self.client.post(
            "/ui/login", data={"token": token(key_id)}, allow_redirects=False
        )
        assert response.status == 303, await response.text()

    async def page(self, path: str) -> str:
        response = await self.client.get(path)
        assert response.status == 200, (path, response.status)
        return await response.text()

    async def csrf(self, path: str = "/ui/routes") -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', await self.page(path))
        assert match is not None
        return match.group(1)

    async def post(self, path: str, **form: str) -> Any:
        return await self.client.post(path, data=form, allow_redirects=False)


@asynccontextmanager
async def ops_ui(database_url: str, root: Path) -> AsyncIterator[OpsUi]:
    config = write_config(root / "config")
    deployment = load_deployment(config, check_connectors=False)
    engine = create_engine(database_url)
    app = create_app(
        settings=Settings(
            database_url=database_url,
            config_dir=config,
            data_dir=root / "var",
            ui_session_secret="test-secret-" + "x" * 32,
        ),
        deployment=deployment,
        repository=Repository(engine),
        router=Router(deployment),
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield OpsUi(client, engine, str(client.make_url("")).rstrip("/"))
    finally:
        await client.close()
        await engine.dispose()
