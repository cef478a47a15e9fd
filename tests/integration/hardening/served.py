"""A whole ozgbridge process (`run_service`: API and worker) on a real port, for hardening tests,
and a raw-socket client that does exactly what a test tells it to."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ozgbridge.service import Service, run_service
from ozgbridge.settings import Settings
from tests.integration.api.support import write_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    service: Service
    settings: Settings

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def connect(self) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return RawClient(reader, writer)


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
    ready: asyncio.Future[Service] = asyncio.get_running_loop().create_future()

    async def started(service: Service) -> None:
        ready.set_result(service)

    task = asyncio.create_task(run_service(settings, api=True, worker=True, started=started))
    done, _ = await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # start-up failed: raise its error here
    service = ready.result()
    try:
        yield Served(service, settings)
    finally:
        assert service.worker is not None
        service.worker.stop()  # run_service then shuts everything down
        await asyncio.wait_for(task, 60)


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

    def close(self) -> None:
        self.writer.close()
