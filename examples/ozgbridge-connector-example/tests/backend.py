"""A document-management system's upload endpoint on 127.0.0.1, as the contract suite's stand-in."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from ozgbridge_connector_example import ZipUploadConnector

from ozgbridge.connector import Connector, ConnectorContext
from ozgbridge.testing import Received

TOKEN = "dms-test-token"


class UploadEndpoint:
    """Implements `ozgbridge.testing.BackendStandIn` for the ``zipupload`` connector."""

    def __init__(self) -> None:
        self.uploads: list[tuple[dict[str, str], bytes]] = []
        self._mode = "ok"
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._connectors: list[Connector[Any]] = []
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/inbox", self._upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/inbox"

    async def close(self) -> None:
        self._release.set()
        for connector in self._connectors:
            await connector.aclose()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if self._mode == "stalled":
            await self._release.wait()
        if self._mode == "failing":
            return web.Response(status=503, text="DMS under maintenance")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401)
        self.uploads.append((dict(request.headers), await request.read()))
        key = request.headers["Idempotency-Key"]
        return web.Response(status=201, headers={"Location": f"/inbox/{key}"})

    def connector(self, *, timeout: float = 10.0, **options: Any) -> ZipUploadConnector:
        raw = {"url": self.url, "token": TOKEN, **options}
        context = ConnectorContext(tenant_id="heinsberg", route_id="dms", data_dir=Path("."))
        connector = ZipUploadConnector.from_config(raw, context=context, timeout=timeout)
        assert isinstance(connector, ZipUploadConnector)
        self._connectors.append(connector)
        return connector

    async def received(self) -> list[Received]:
        return [read_upload(headers, body) for headers, body in self.uploads]

    @asynccontextmanager
    async def stalled(self) -> AsyncIterator[None]:
        self._mode, self._release = "stalled", asyncio.Event()
        try:
            yield
        finally:
            self._mode = "ok"
            self._release.set()

    @asynccontextmanager
    async def failing(self) -> AsyncIterator[None]:
        self._mode = "failing"
        try:
            yield
        finally:
            self._mode = "ok"


def read_upload(headers: dict[str, str], body: bytes) -> Received:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = manifest["files"]
        assert headers["Idempotency-Key"] == manifest["deliveryId"]
        return Received(
            delivery_id=manifest["deliveryId"],
            application_id=manifest["applicationId"],
            data=archive.read(files["data"]),
            data_mime_type=manifest["data"]["mimeType"],
            attachments=tuple(archive.read(name) for name in files["attachments"]),
        )
