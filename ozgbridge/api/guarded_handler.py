"""One HTTP connection under the connection limits: aiohttp's protocol with a clock
(connection_limits.py: the limits, why they exist, and the decision which deadline a connection
has missed). The server that makes these and looks at them is in connections.py.

aiohttp has no public hook for any of this, so `GuardedRequestHandler` extends aiohttp's
``RequestHandler`` (aiohttp 3.x; the tests in tests/integration/hardening/test_connection_limits.py
drive it over real sockets).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_server import Server

from ozgbridge.api.connection_limits import Clock, ConnectionLimits, Phase, overdue, raw_problem
from ozgbridge.api.headers import SECURITY_HEADERS
from ozgbridge.api.problems import Problem

# The same logger name as the server's: one place to look for a connection's events.
log = structlog.get_logger("ozgbridge.api.connections")

# How long a handler may take to answer 408 once its body timed out, before the connection is
# simply closed (a handler that stopped reading never sees the timeout).
_ANSWER_GRACE = 5.0


class Guard(Protocol):
    """What a connection needs of the server that made it (`connections.GuardedServer`)."""

    limits: ConnectionLimits

    def full(self) -> bool: ...

    def note_refusal(self, client: str | None) -> None: ...


def _client(peer: Any) -> str | None:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None


class GuardedRequestHandler(RequestHandler):
    """aiohttp's protocol with a clock per connection (the limits: connection_limits.py)."""

    def __init__(
        self, manager: Server, guard: Guard, *, loop: asyncio.AbstractEventLoop, **kwargs: Any
    ):
        super().__init__(manager, loop=loop, **kwargs)
        self._guard = guard
        self._limits = guard.limits
        self._clock = Clock(opened_at=loop.time())
        self._body: StreamReader | None = None
        self._timed_out = False

    # --- connection ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._guard.full():
            self._refuse(transport)
            return
        super().connection_made(transport)
        self._clock = Clock(opened_at=self._loop.time())

    def _refuse(self, transport: asyncio.BaseTransport) -> None:
        """Answer 503 and half-close at once; drop what the client sends meanwhile."""
        assert isinstance(transport, asyncio.Transport)
        self._manager = None  # never registered: connection_lost has nothing to undo
        self._force_close = True  # data_received ignores everything from now on
        self._guard.note_refusal(_client(transport.get_extra_info("peername")))
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
