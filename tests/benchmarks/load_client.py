"""A lean HTTP/1.1 load generator: the same request over keep-alive connections, as wrk does.

Why not aiohttp's client: on the 2-core reference machine the load generator shares the cores
with the API and PostgreSQL, and aiohttp's client spent more CPU per request (~0.2 ms) than a bare
aiohttp server does to answer it (~0.11 ms). What the load generator burns, the service under test
cannot use, so the intake figure measured the client as much as ozgbridge. This one writes one
pre-built request per turn and reads the answer by its Content-Length; it checks every status
and hands back every body, so nothing is counted that the service did not answer.

It speaks only what ozgbridge's API answers with: ``Content-Length`` bodies on a connection kept
alive. A chunked or closing answer is an error, not a silent miscount.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit


class LoadError(RuntimeError):
    """The server answered in a way this client does not follow, or closed the connection."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiting: asyncio.Future[tuple[int, bytes]] | None = None
        self._lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or LoadError("the server closed the connection")
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_exception(self._lost)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        waiting = self._waiting
        if waiting is None or waiting.done():
            return
        try:
            answer = self._answer()
        except LoadError as exc:
            waiting.set_exception(exc)
            return
        if answer is not None:
            waiting.set_result(answer)

    def _answer(self) -> tuple[int, bytes] | None:
        """(status, body) once a whole answer is in the buffer, else None."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        length: int | None = None
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" or (
                name == "connection" and value.strip().lower() == "close"
            ):
                raise LoadError(f"unsupported answer header {line!r}")
        if length is None:
            raise LoadError("an answer without Content-Length")
        if len(self._buffer) < end + 4 + length:
            return None
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        return status, body

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._lost is not None:
            raise self._lost
        assert self.transport is not None
        self._waiting = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._waiting

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class LoadClient:
    """``async with LoadClient(url, headers, body, connections) as client``: ``post()`` sends the
    one request on a free connection and returns (status, body)."""

    def __init__(
        self, url: str, path: str, headers: dict[str, str], body: bytes, connections: int
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"need http://host:port, not {url}")
        self._host, self._port = parts.hostname, parts.port
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        self._request = "\r\n".join(lines).encode("latin-1") + body
        self._size = connections
        self._free: asyncio.Queue[_Connection] = asyncio.Queue()
        self._all: list[_Connection] = []

    async def __aenter__(self) -> LoadClient:
        loop = asyncio.get_running_loop()
        for _ in range(self._size):
            _transport, connection = await loop.create_connection(
                _Connection, self._host, self._port
            )
            self._all.append(connection)
            self._free.put_nowait(connection)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for connection in self._all:
            connection.close()

    async def post(self) -> tuple[int, bytes]:
        """On whichever connection is free (open-loop load: more requests than connections)."""
        connection = await self._free.get()
        try:
            return await connection.exchange(self._request)
        finally:
            self._free.put_nowait(connection)

    async def closed_loops(self, count: int, each: Callable[[int, bytes, float], None]) -> None:
        """``count`` requests, each connection sending its next one when its answer is in;
        ``each(status, body, latency)`` per answer."""
        numbers = iter(range(count))

        async def loop(connection: _Connection) -> None:
            for _ in numbers:
                sent = time.perf_counter()
                status, body = await connection.exchange(self._request)
                each(status, body, time.perf_counter() - sent)

        await asyncio.gather(*(loop(connection) for connection in self._all))
