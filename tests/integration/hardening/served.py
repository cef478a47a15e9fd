"""A whole ozgbridge process (`run_service`: API and worker) on a real port, for hardening tests,
and a raw-socket client that does exactly what a test tells it to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ozgbridge.assembly import Service
from ozgbridge.settings import Settings
from tests.integration.api.support import write_config
from tests.integration.serving import free_port, serving


@dataclass
class Served:
    service: Service
    settings: Settings
    clients: list[RawClient] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def connect(self) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        client = RawClient(reader, writer)
        self.clients.append(client)  # closed when `served` ends, whatever the test did
        return client


@asynccontextmanager
async def served(root: Path, database_url: str, **overrides: Any) -> AsyncIterator[Served]:
    """The example deployment (filedrop into ``root/var``) served until the block ends."""
    config = root / "config"
    if not config.exists():
        write_config(config)
    values: dict[str, Any] = {
        "database_url": database_url,
        "config_dir": config,
        "data_dir": root / "var",
        "port": free_port(),
        "poll_interval": 0.05,
        "retry_jitter": 0,
        "pg_notify": False,
    }
    settings = Settings(**(values | overrides))
    async with serving(settings) as service:
        instance = Served(service, settings)
        try:
            yield instance
        finally:
            for client in instance.clients:
                await client.close()


class RawClient:
    """One TCP connection, driven byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_all(self, timeout: float) -> bytes:
        """Everything until the server closes the connection (fails after ``timeout`` s)."""
        return await asyncio.wait_for(self.reader.read(), timeout)

    async def read_answer(self, timeout: float) -> tuple[int, dict[str, str], bytes]:
        """One HTTP/1.1 answer with a Content-Length: status, headers (lower-case), body."""

        async def read() -> tuple[int, dict[str, str], bytes]:
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
            return status, headers, body

        return await asyncio.wait_for(read(), timeout)

    async def closed_by_server(self, timeout: float) -> bool:
        """True once the server closed (EOF or reset) within ``timeout`` s; False if still open."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), timeout)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        assert rest == b"", rest
        return True

    async def close(self) -> None:
        """Close and wait until the socket is gone (a server that closed first is fine)."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
