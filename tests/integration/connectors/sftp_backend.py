"""A real SFTP server for connector tests: asyncssh on 127.0.0.1, chrooted to a temporary folder.

Password and public-key logins; switches that make writes hang (``stalled``), refuse folders
(``failing``) or drop the connection after a number of written bytes (``drop_after``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncssh

from connectors.sftp import SftpConnector
from ozgbridge.connector import Connector, ConnectorContext
from ozgbridge.testing.contract import Received
from tests.integration.connectors.folders import deliveries, read_delivery

USERNAME = "ozgbridge"
PASSWORD = "sftp-secret-for-tests"


class SftpServer:
    """Implements the contract's `BackendStandIn`; ``connector()`` points at this server."""

    def __init__(self, directory: Path) -> None:
        self.root = directory / "sftp-root"
        self.drop = self.root / "drop"
        self.drop.mkdir(parents=True)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.port = 0
        self.logins = 0
        self.connections: list[asyncssh.SSHServerConnection] = []
        self.stall: asyncio.Event | None = None
        self.refuse_mkdir = False
        self.drop_after: int | None = None
        self.written = 0
        self._server: asyncssh.SSHAcceptor | None = None
        self._connectors: list[Connector[Any]] = []

    async def start(self) -> None:
        backend = self
        authorized = asyncssh.import_authorized_keys(
            self.client_key.export_public_key().decode("ascii")
        )

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                backend.connections.append(conn)

            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                ok = username == USERNAME and password == PASSWORD
                backend.logins += ok
                return ok

        self._server = await asyncssh.create_server(
            Server,
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=authorized,
            sftp_factory=lambda channel: DropServer(channel, backend),
            allow_scp=False,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def known_hosts(self, key: asyncssh.SSHKey | None = None) -> str:
        public = (key or self.host_key).export_public_key().decode("ascii").strip()
        return f"[127.0.0.1]:{self.port} {public}\n"

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "username": USERNAME,
            "password": PASSWORD,
            "known_hosts": self.known_hosts(),
            "directory": "/drop",
        } | overrides

    def connector(self, *, timeout: float = 10.0, **overrides: Any) -> SftpConnector:
        context = ConnectorContext(
            tenant_id="heinsberg", route_id="gewerbe", data_dir=self.root.parent
        )
        connector = SftpConnector.from_config(
            self.options(**overrides), context=context, timeout=timeout
        )
        assert isinstance(connector, SftpConnector)
        self._connectors.append(connector)
        return connector

    async def received(self) -> list[Received]:
        return [read_delivery(folder) for folder in deliveries(self.drop)]

    @asynccontextmanager
    async def stalled(self) -> AsyncIterator[None]:
        self.stall = asyncio.Event()
        try:
            yield
        finally:
            self.stall.set()
            self.stall = None

    @asynccontextmanager
    async def failing(self) -> AsyncIterator[None]:
        self.refuse_mkdir = True
        try:
            yield
        finally:
            self.refuse_mkdir = False

    async def close(self) -> None:
        for connector in self._connectors:
            await connector.aclose()
        if self.stall is not None:
            self.stall.set()
        for connection in self.connections:
            connection.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class DropServer(asyncssh.SFTPServer):
    """The stock asyncssh SFTP server in a chroot, with the stand-in's failure switches."""

    def __init__(self, channel: asyncssh.SSHServerChannel[bytes], backend: SftpServer) -> None:
        super().__init__(channel, chroot=str(backend.root).encode())
        self.backend = backend

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> Any:
        if self.backend.refuse_mkdir:
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        return super().mkdir(path, attrs)

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        backend = self.backend
        if backend.stall is not None:
            await backend.stall.wait()
        if backend.drop_after is not None:
            backend.written += len(data)
            if backend.written > backend.drop_after:
                self.connection.abort()
                raise asyncssh.SFTPConnectionLost("dropped by the test")
        result = super().write(file_obj, offset, data)
        assert isinstance(result, int)
        return result
