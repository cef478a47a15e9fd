"""The aiohttp machinery that enforces the connection limits (connection_limits.py: the limits,
why they exist, and the decision which deadline a connection has missed).

One watchdog timer per server looks at every connection a few times per timeout, so the cost is
one cheap pass over the open connections, not a timer per received chunk. aiohttp has no public
hook for any of this: `GuardedAppRunner` builds a `GuardedServer`, whose protocol
`GuardedRequestHandler` extends aiohttp's ``RequestHandler`` (aiohttp 3.x; the tests in
tests/integration/hardening/test_connection_limits.py drive it over real sockets).
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import structlog
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_server import Server

from ozgbridge.api.connection_limits import Clock, ConnectionLimits, Phase, overdue, raw_problem
from ozgbridge.api.headers import SECURITY_HEADERS
from ozgbridge.api.problems import Problem
from ozgbridge.settings import Settings

log = structlog.get_logger("ozgbridge.api.connections")

# How long a handler may take to answer 408 once its body timed out, before the connection is
# simply closed (a handler that stopped reading never sees the timeout).
_ANSWER_GRACE = 5.0
# Refusals are logged at most this often, with a count: a flood must not flood the log too.
_REFUSAL_LOG_INTERVAL = 10.0
# File descriptors beyond the connections: database pool, spool files, the listening socket.
_FD_HEADROOM = 256


def _client(peer: Any) -> str | None:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None


class GuardedRequestHandler(RequestHandler):
    """aiohttp's protocol with a clock per connection (the limits: connection_limits.py)."""

    def __init__(self, manager: GuardedServer, *, loop: asyncio.AbstractEventLoop, **kwargs: Any):
        super().__init__(manager, loop=loop, **kwargs)
        self._limits = manager.limits
        self._clock = Clock(opened_at=loop.time())
        self._body: StreamReader | None = None
        self._timed_out = False

    # --- connection ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        manager = self._manager
        if isinstance(manager, GuardedServer) and manager.full():
            self._refuse(manager, transport)
            return
        super().connection_made(transport)
        self._clock = Clock(opened_at=self._loop.time())

    def _refuse(self, manager: GuardedServer, transport: asyncio.BaseTransport) -> None:
        """Answer 503 and half-close at once; drop what the client sends meanwhile."""
        assert isinstance(transport, asyncio.Transport)
        self._manager = None  # never registered: connection_lost has nothing to undo
        self._force_close = True  # data_received ignores everything from now on
        manager.note_refusal(_client(transport.get_extra_info("peername")))
        transport.write(
            raw_problem(
                503,
                f"the server is at its limit of {self._limits.max_connections} connections; "
                "try again shortly",
                {"Retry-After": "1"},
            )
        )
        if transport.can_write_eof():
            transport.write_eof()
        # Closing with unread request bytes would reset the connection and could lose the 503;
        # give the client a moment to read it and close its side.
        self._loop.call_later(1.0, transport.close)

    # --- what arrives ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not data or self._timed_out or self._force_close:
            super().data_received(data)
            return
        now = self._loop.time()
        clock = self._clock
        if self._body is not None and not self._body.is_eof():
            clock.body_bytes += len(data)
        elif clock.head_started is None:
            clock.head_started = now
            clock.head_bytes = 0
        if clock.head_started is not None:
            clock.head_bytes += len(data)
        requests = self._request_count
        super().data_received(data)
        if self._request_count != requests and self._messages:
            self._head_complete(now)

    def _head_complete(self, now: float) -> None:
        clock = self._clock
        clock.head_started = None
        clock.head_bytes = 0
        payload = self._messages[-1][1]
        if payload.is_eof():
            self._body = None
            clock.body_started = None
            return
        self._body = payload
        clock.body_started = now
        clock.body_bytes = 0
        clock.paused = 0.0
        clock.paused_since = self._loop.time() if self._reading_paused else None

    def pause_reading(self) -> None:
        if self._clock.paused_since is None:
            self._clock.paused_since = self._loop.time()
        super().pause_reading()

    def resume_reading(self, resume_parser: bool = True) -> None:
        clock = self._clock
        if clock.paused_since is not None:
            clock.paused += self._loop.time() - clock.paused_since
            clock.paused_since = None
        super().resume_reading(resume_parser)

    async def finish_response(
        self, request: BaseRequest, resp: StreamResponse, start_time: float | None
    ) -> tuple[StreamResponse, bool]:
        answered = await super().finish_response(request, resp, start_time)
        now = self._loop.time()
        clock = self._clock
        clock.idle_since = now
        if clock.head_started is not None:  # pipelined bytes: their clock starts now
            clock.head_started = max(clock.head_started, now)
        return answered

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        """aiohttp's own answer to a request it could not parse: with our headers, too."""
        response = super().handle_error(request, status, exc, message)
        for name, value in {**SECURITY_HEADERS, "Cache-Control": "no-store"}.items():
            response.headers.setdefault(name, value)
        return response

    # --- the watchdog's look -----------------------------------------------------------------

    def check(self, now: float) -> None:
        if self._timed_out or self.transport is None:
            return
        body = self._body
        reading_body = (
            body is not None
            and not body.is_eof()
            and body.exception() is None
            and self._request_in_progress
        )
        waiting = self._waiter is not None and not self._waiter.done()
        phase = overdue(
            self._clock, now=now, waiting=waiting, reading_body=reading_body, limits=self._limits
        )
        if phase is not None:
            self._expire(phase, now)

    def _expire(self, phase: Phase, now: float) -> None:
        self._timed_out = True
        client = _client(self.peername)
        clock = self._clock
        if phase is Phase.KEEPALIVE:
            log.debug("http.keepalive_closed", client=client)
            self.force_close()
            return
        if phase is Phase.HEADERS:
            started = clock.head_started if clock.head_started is not None else clock.opened_at
            log.warning(
                "http.timeout",
                phase=str(phase),
                client=client,
                received_bytes=clock.head_bytes,
                seconds=round(now - started, 1),
            )
            if clock.head_bytes and self.transport is not None:
                self.transport.write(raw_problem(408, "the request head was not complete in time"))
            self.force_close()
            return
        assert self._body is not None
        assert clock.body_started is not None
        log.warning(
            "http.timeout",
            phase=str(phase),
            client=client,
            received_bytes=clock.body_bytes,
            seconds=round(now - clock.body_started, 1),
        )
        # The handler reading the body gets the 408 as its read's error and answers it; no
        # lingering read of the rest afterwards, the connection closes with the answer.
        self._lingering_time = 0.0
        self._body.set_exception(
            Problem(
                408,
                f"the request body did not arrive in time ({clock.body_bytes} bytes received)",
                headers={"Connection": "close"},
            )
        )
        self._loop.call_later(_ANSWER_GRACE, self._close_unanswered)

    def _close_unanswered(self) -> None:
        if self._request_in_progress and self.transport is not None:
            self.force_close()


class GuardedServer(Server):
    """aiohttp's low-level server, making `GuardedRequestHandler`s and watching them."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._watchdog: asyncio.TimerHandle | None = None
        self._refused = 0
        self._refusal_logged_at: float | None = None

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)

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
