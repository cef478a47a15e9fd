"""The API served as ``ozgbridge serve`` serves it (service.py's AppRunner), on a real socket.

aiohttp's TestServer cancels a handler whose client goes away (``handler_cancellation=True``);
the service does not, so what a vanished client does to a running handler is only seen here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.api.app import create_app
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import load_deployment
from tests.integration.api.support import stored_counts


@dataclass
class Served:
    port: int
    engine: AsyncEngine

    async def stored(self) -> dict[str, int]:
        return await stored_counts(self.engine)


@asynccontextmanager
async def serve(database_url: str, config: Path, **settings: Any) -> AsyncIterator[Served]:
    deployment = load_deployment(config, check_connectors=False)
    engine = create_engine(database_url)
    app = create_app(
        settings=Settings(database_url=database_url, config_dir=config, **settings),
        deployment=deployment,
        repository=Repository(engine),
        router=Router(deployment),
    )
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        yield Served(port=port, engine=engine)
    finally:
        await runner.cleanup()
        await engine.dispose()
