"""Connection limits for the API's HTTP server, as Apache's mod_reqtimeout and nginx set them.

aiohttp's server closes idle keep-alive connections, but nothing else bounds how long a client
may take: a client that trickles header lines (slowloris) or its body holds its connection, and
a few hundred of them take the API down. These limits add what is missing, per connection:

- the request head (request line and headers) must be complete within ``header_timeout`` of its
  first byte — or, on a fresh connection, of the connection being opened;
- the body within ``body_timeout``, extended by one second per ``body_min_rate`` bytes received
  (mod_reqtimeout's ``body=20,MinRate=500``); time in which the server itself stopped reading
  (its buffer full while a handler is busy) does not count against the client;
- an idle keep-alive connection is closed after ``keepalive_timeout``;
- beyond ``max_connections`` open connections, a new one is answered 503 at once and closed.

A client that runs out of time while an answer is still possible gets 408 (a head begun but not
finished; a body a handler is still reading) and the server closes the connection. Each case is
one log line (``http.timeout`` with the client address and the phase), never an error trace.

This module is the policy: the limits, a connection's `Clock`, the deadline it has missed
(`overdue`) and the answer for when no request object exists (`raw_problem`). connections.py
enforces it inside aiohttp's server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

from ozgbridge.api.headers import SECURITY_HEADERS
from ozgbridge.api.problems import PROBLEM_CONTENT_TYPE
from ozgbridge.settings import Settings


class Phase(StrEnum):
    HEADERS = "headers"
    BODY = "body"
    KEEPALIVE = "keepalive"


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    body_min_rate: float
    keepalive_timeout: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            body_min_rate=settings.body_min_rate,
            keepalive_timeout=settings.keepalive_timeout,
            max_connections=settings.max_connections,
        )

    @property
    def tick(self) -> float:
        """How often the watchdog looks: often enough that no deadline slips by much."""
        shortest = min(self.header_timeout, self.body_timeout, self.keepalive_timeout)
        return min(1.0, max(0.05, shortest / 4))


@dataclass
class Clock:
    """What the watchdog knows about one connection; times are the event loop's clock."""

    opened_at: float
    idle_since: float | None = None  # the last answer was sent; waiting for the next request
    head_started: float | None = None  # first byte of a request head that is not complete
    head_bytes: int = 0
    body_started: float | None = None  # the head is complete, the body is still coming
    body_bytes: int = 0
    paused: float = 0.0  # seconds the server itself did not read (not the client's fault)
    paused_since: float | None = None

    def paused_until(self, now: float) -> float:
        return self.paused + (now - self.paused_since if self.paused_since is not None else 0.0)


def overdue(
    clock: Clock, *, now: float, waiting: bool, reading_body: bool, limits: ConnectionLimits
) -> Phase | None:
    """The phase whose deadline this connection has missed, if any.

    ``waiting``: the server waits for (the rest of) a request head; ``reading_body``: a handler
    runs while the request's body is still arriving.
    """
    if reading_body and clock.body_started is not None:
        elapsed = now - clock.body_started - clock.paused_until(now)
        allowed = limits.body_timeout + clock.body_bytes / limits.body_min_rate
        return Phase.BODY if elapsed > allowed else None
    if not waiting:
        return None
    if clock.head_started is not None:
        late = now - clock.head_started > limits.header_timeout
        return Phase.HEADERS if late else None
    if clock.idle_since is None:  # a fresh connection that has not sent a byte yet
        return Phase.HEADERS if now - clock.opened_at > limits.header_timeout else None
    return Phase.KEEPALIVE if now - clock.idle_since > limits.keepalive_timeout else None


def raw_problem(status: int, detail: str, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 problem+json answer, for when no request object exists."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": phrase, "status": status, "detail": detail}
    ).encode()
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"Content-Type: {PROBLEM_CONTENT_TYPE}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "Cache-Control: no-store",
        *(f"{name}: {value}" for name, value in {**SECURITY_HEADERS, **(headers or {})}.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body
