"""A webhook back-end on a real socket for operations tests: it verifies signatures, counts
concurrent requests, can fail with 503 until told to recover, and records every request."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from aiohttp import web

from connectors._signing import verify_signature

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Seen:
    at: float  # time.monotonic()
    webhook_id: str
    status: int
    body: dict[str, object]


@dataclass
class CountingBackend:
    delay: float = 0.0
    failing: bool = False  # answer 503 while set
    requests: list[Seen] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    concurrent: int = 0
    max_concurrent: int = 0
    bad_signatures: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inbox"

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_signature(SECRET, request.headers, raw):
            self.bad_signatures += 1
            return web.Response(status=401)
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            status = 503 if self.failing else 201
            webhook_id = request.headers["webhook-id"]
            if status == 201:
                self.stored.add(webhook_id)
            async with self._changed:
                self.requests.append(Seen(time.monotonic(), webhook_id, status, json.loads(raw)))
                self._changed.notify_all()
        finally:
            self.concurrent -= 1
        if status == 503:
            return web.Response(status=503)
        return web.json_response({"id": f"FV-{webhook_id}"}, status=201)

    async def wait_for(self, *, requests: int = 0, stored: int = 0, within: float = 30) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(
                lambda: len(self.requests) >= requests and len(self.stored) >= stored
            )

    async def start(self) -> CountingBackend:
        app = web.Application()
        app.router.add_post("/inbox", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
