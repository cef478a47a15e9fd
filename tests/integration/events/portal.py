"""A portal's event receiver: a real aiohttp server on 127.0.0.1 that checks every request with
the Standard Webhooks reference library (`standardwebhooks` from PyPI) — not with ozgbridge's own
signing code — and records the events it accepted, in arrival order."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class PortalReceiver:
    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.events: list[dict[str, Any]] = []  # accepted, in arrival order (repeats included)
        self.headers: list[dict[str, str]] = []
        self.refused_signatures = 0
        self.requests = 0
        # Scripted answers: a status, or "hang" — hold the request open for ``hang_seconds``,
        # then answer 503 without keeping the event (its sender is expected to be gone by then).
        self.answers: deque[int | str] = deque()
        self.hang_seconds = 30.0
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/ozg-events", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/ozg-events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests += 1
        try:
            event = self.webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.refused_signatures += 1
            return web.Response(status=401)
        answer = self.answers.popleft() if self.answers else 204
        if answer == "hang":
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=503)
        if int(answer) >= 300:
            return web.Response(status=int(answer))
        async with self._arrived:
            self.events.append(event)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            self._arrived.notify_all()
        return web.Response(status=int(answer))

    def of(self, application_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["applicationId"] == application_id]

    async def until(self, check: Any, timeout: float = 20) -> None:
        """Wait until ``check()`` holds for the events received so far."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(check)

    def types(self, application_id: str) -> list[str]:
        return [e["type"] for e in self.of(application_id)]

    def dump(self) -> str:
        return json.dumps(self.events, indent=1)
