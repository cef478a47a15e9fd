"""The aiohttp server that enforces the connection limits (connection_limits.py: the limits,
why they exist, and the decision which deadline a connection has missed).

One watchdog timer per server looks at every connection a few times per timeout, so the cost is
one cheap pass over the open connections, not a timer per received chunk. aiohttp has no public
hook for any of this: `GuardedAppRunner` builds a `GuardedServer`, whose protocol is
`guarded_handler.GuardedRequestHandler` (aiohttp 3.x; the tests in
tests/integration/hardening/test_connection_limits.py drive it over real sockets).
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from ozgbridge.api.connection_limits import ConnectionLimits
from ozgbridge.api.guarded_handler import GuardedRequestHandler
from ozgbridge.settings import Settings

log = structlog.get_logger("ozgbridge.api.connections")

# Refusals are logged at most this often, with a count: a flood must not flood the log too.
_REFUSAL_LOG_INTERVAL = 10.0
# File descriptors beyond the connections: database pool, spool files, the listening socket.
_FD_HEADROOM = 256


class GuardedServer(Server):
    """aiohttp's low-level server, making `GuardedRequestHandler`s and watching them."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._watchdog: asyncio.TimerHandle | None = None
        self._refused = 0
        self._refusal_logged_at: float | None = None

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, self, loop=self._loop, **self._kwargs)

    def full(self) -> bool:
        return len(self._connections) >= self.limits.max_connections

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if self._watchdog is None:
            self._watchdog = self._loop.call_later(self.limits.tick, self._sweep)

    def _sweep(self) -> None:
        self._watchdog = None
        now = self._loop.time()
        for handler in list(self._connections):
            if isinstance(handler, GuardedRequestHandler):
                handler.check(now)
        if self._connections:
            self._watchdog = self._loop.call_later(self.limits.tick, self._sweep)

    def note_refusal(self, client: str | None) -> None:
        self._refused += 1
        now = self._loop.time()
        if self._refusal_logged_at is None or now - self._refusal_logged_at >= (
            _REFUSAL_LOG_INTERVAL
        ):
            log.warning(
                "http.connection_refused",
                client=client,
                refused=self._refused,
                max_connections=self.limits.max_connections,
            )
            self._refusal_logged_at = now
            self._refused = 0

    async def shutdown(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - aiohttp's
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        await super().shutdown(timeout)


class GuardedAppRunner(web.AppRunner):
    """``web.AppRunner`` whose server enforces `ConnectionLimits`."""

    def __init__(self, app: web.Application, limits: ConnectionLimits, **kwargs: Any) -> None:
        # aiohttp's own keep-alive timer only backs ours up (it would close a connection whose
        # head is still within its header timeout, silently).
        backstop = max(limits.header_timeout, limits.keepalive_timeout) + 60
        super().__init__(app, keepalive_timeout=backstop, **kwargs)
        self._limits = limits

    async def _make_server(self) -> Server:
        plain = await super()._make_server()
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            limits=self._limits,
            **plain._kwargs,
        )


def runner(app: web.Application, settings: Settings) -> GuardedAppRunner:
    """The runner `run_service` serves the API with."""
    limits = ConnectionLimits.of(settings)
    _ensure_descriptors(limits.max_connections + _FD_HEADROOM)
    return GuardedAppRunner(app, limits, access_log=None, handle_signals=False)


def _ensure_descriptors(wanted: int) -> None:
    """Raise the soft open-files limit if it is below what the connection limit needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft < wanted:
        log.warning(
            "service.open_files_limit_low",
            limit=soft,
            wanted=wanted,
            hint="raise the open-files limit (LimitNOFILE, ulimit -n) or lower "
            "OZGBRIDGE_MAX_CONNECTIONS",
        )
