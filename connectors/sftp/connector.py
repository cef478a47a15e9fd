"""The ``sftp`` connector: one SSH connection per route, the folder layout of `folder_layout`."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import secrets
import stat
from dataclasses import dataclass

import asyncssh
import structlog

from connectors import folder_layout as layout
from connectors.sftp import errors
from connectors.sftp.options import SftpOptions
from ozgbridge import egress
from ozgbridge.connector import Connector, ConnectorContext, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import DeliveryError, RetriableDeliveryError

logger = structlog.get_logger("ozgbridge.connectors.sftp")

# envelope.json of a delivery is a few kB; more is not ours, and reading it must stay cheap.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


@dataclass
class _Step:
    """The operation in progress, named in error details."""

    name: str = "connect"


class SftpConnector(Connector[SftpOptions]):
    """Uploads each envelope as a folder into a directory on an SFTP server."""

    kind = "sftp"
    Options = SftpOptions

    def __init__(self, options: SftpOptions, *, context: ConnectorContext, timeout: float) -> None:
        super().__init__(options, context=context, timeout=timeout)
        # Parsed once, while the configuration loads: a broken key stops the start.
        self._known_hosts = options.host_keys()
        self._client_key = options.client_key()
        self._password = options.password.get_secret_value() if options.password else None
        self._directory = options.remote_directory()
        self._session: tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient] | None = None
        self._session_lock = asyncio.Lock()

    def describe_target(self) -> str:
        return f"the SFTP server {self.options.host}:{self.options.port}"

    @classmethod
    def destinations(cls, options: ConnectorOptions) -> list[tuple[tuple[str | int, ...], str]]:
        assert isinstance(options, SftpOptions)
        return [(("host",), options.host)]

    async def send(self, envelope: Envelope) -> Receipt:
        name = layout.folder_name(envelope)
        files = layout.folder_files(envelope)
        step = _Step()
        connection: asyncssh.SSHClientConnection | None = None
        try:
            connection, sftp = await self._sftp()
            return await self._upload(sftp, envelope, name, files, step)
        except (asyncssh.Error, OSError) as exc:
            if not isinstance(exc, asyncssh.SFTPError) or exc.code in errors.CONNECTION_STATUSES:
                self._drop(connection)
            raise errors.translate(
                exc, host=self.options.host, port=self.options.port, step=step.name
            ) from exc
        except asyncio.CancelledError:
            # A timeout: requests may still be stuck on the server; start afresh next time.
            self._drop(connection)
            raise

    async def check(self) -> Receipt:
        """A route test must not leave a folder the back-end would import: instead, connect,
        check the drop directory and create and remove a hidden file in it."""
        step = _Step()
        connection: asyncssh.SSHClientConnection | None = None
        probe = posixpath.join(self._directory, f".ozgbridge-check-{secrets.token_hex(8)}")
        try:
            async with asyncio.timeout(self.timeout):
                connection, sftp = await self._sftp()
                step.name = "stat of the drop directory"
                await self._require_directory(sftp)
                step.name = "write"
                await self._write_file(sftp, probe, b"ozgbridge route check\n")
                step.name = "remove"
                await sftp.remove(probe)
        except TimeoutError as exc:
            self._drop(connection)
            raise RetriableDeliveryError(
                f"no answer from {self.describe_target()} within {self.timeout:g} s ({step.name})"
            ) from exc
        except (asyncssh.Error, OSError) as exc:
            if not isinstance(exc, asyncssh.SFTPError) or exc.code in errors.CONNECTION_STATUSES:
                self._drop(connection)
            raise errors.translate(
                exc, host=self.options.host, port=self.options.port, step=step.name
            ) from exc
        return Receipt(detail="drop directory is writable")

    async def _upload(
        self,
        sftp: asyncssh.SFTPClient,
        envelope: Envelope,
        name: str,
        files: list[layout.FolderFile],
        step: _Step,
    ) -> Receipt:
        directory = self._directory
        step.name = "stat of the drop directory"
        await self._require_directory(sftp)
        final = posixpath.join(directory, name)
        existing = await self._already_delivered(sftp, final, envelope, step)
        if existing is not None:
            return existing

        # Only an interrupted attempt leaves a staging folder behind; it holds personal data,
        # so the next attempt of the same delivery clears it away.
        step.name = "cleanup of earlier attempts"
        prefix = layout.staging_prefix(envelope)
        for entry in await sftp.listdir(directory):
            if isinstance(entry, str) and entry.startswith(prefix):
                await sftp.rmtree(posixpath.join(directory, entry), ignore_errors=True)

        staging = posixpath.join(directory, layout.staging_name(envelope))
        try:
            await self._write_folder(sftp, staging, files, step)
            step.name = "rename"
            try:
                await sftp.rename(staging, final)
            except asyncssh.SFTPError as exc:
                if exc.code in errors.CONNECTION_STATUSES:
                    raise
                # An earlier attempt that timed out may have finished on the server meanwhile.
                won = await self._already_delivered(sftp, final, envelope, step)
                if won is None:
                    raise
                await sftp.rmtree(staging, ignore_errors=True)
                return won
        except (asyncssh.SFTPError, DeliveryError) as exc:
            # The server still answers: take this attempt's half folder (personal data) away.
            if (
                not isinstance(exc, asyncssh.SFTPError)
                or exc.code not in errors.CONNECTION_STATUSES
            ):
                await sftp.rmtree(staging, ignore_errors=True)
            raise
        logger.info(
            "sftp.written",
            delivery_id=envelope.delivery_id,
            application_id=envelope.application_id,
            files=len(files),
            bytes=sum(len(file.content) for file in files if file.name != layout.MANIFEST_NAME),
        )
        return Receipt(remote_reference=name)

    async def _require_directory(self, sftp: asyncssh.SFTPClient) -> None:
        try:
            attrs = await sftp.stat(self._directory)
        except asyncssh.SFTPNoSuchFile:
            # Retriable, as in filedrop: the server's operator can create it, then it flows.
            raise RetriableDeliveryError("drop directory is missing on the SFTP server") from None
        if attrs.permissions is not None and not stat.S_ISDIR(attrs.permissions):
            raise RetriableDeliveryError("drop directory on the SFTP server is not a directory")

    async def _already_delivered(
        self, sftp: asyncssh.SFTPClient, final: str, envelope: Envelope, step: _Step
    ) -> Receipt | None:
        step.name = "lookup of an earlier delivery"
        try:
            attrs = await sftp.lstat(final)
        except asyncssh.SFTPNoSuchFile:
            return None
        is_folder = attrs.permissions is not None and stat.S_ISDIR(attrs.permissions)
        manifest: bytes | None = None
        if is_folder:
            manifest = await self._read_manifest(sftp, final)
        receipt = layout.judge_existing("folder" if is_folder else "other", manifest, envelope)
        logger.info(
            "sftp.already_present",
            delivery_id=envelope.delivery_id,
            application_id=envelope.application_id,
        )
        return receipt

    async def _read_manifest(self, sftp: asyncssh.SFTPClient, folder: str) -> bytes | None:
        try:
            handle = await sftp.open(posixpath.join(folder, layout.MANIFEST_NAME), "rb")
            content = await handle.read(MAX_MANIFEST_BYTES)
            await handle.close()
        except asyncssh.SFTPError as exc:
            if exc.code in errors.CONNECTION_STATUSES:
                raise
            return None  # possibly a pickup script removing the folder right now
        return content if isinstance(content, bytes) else None

    async def _write_folder(
        self, sftp: asyncssh.SFTPClient, staging: str, files: list[layout.FolderFile], step: _Step
    ) -> None:
        step.name = "mkdir"
        await sftp.mkdir(staging)
        await sftp.mkdir(posixpath.join(staging, layout.ATTACHMENTS_DIR))
        step.name = "write"
        for file in files:
            await self._write_file(sftp, posixpath.join(staging, file.relative_path), file.content)

    async def _write_file(self, sftp: asyncssh.SFTPClient, path: str, content: bytes) -> None:
        # No `async with`: closing waits for the server, and on a timeout that wait would hang
        # on the very server that did not answer. A failed attempt drops its handles with the
        # session or the staging folder instead.
        handle = await sftp.open(path, "xb")
        await handle.write(content)
        # fsync@openssh.com where the server has it: the rename must not outrun the data.
        with contextlib.suppress(asyncssh.SFTPOpUnsupported):
            await handle.fsync()
        await handle.close()

    async def _sftp(self) -> tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient]:
        """The route's SFTP session, (re)connecting when there is none or it was lost."""
        async with self._session_lock:
            if self._session is not None and not self._session[0].is_closed():
                return self._session
            self._drop(self._session[0] if self._session else None)
            # With allowed networks, connect here, to a checked address (egress.py); the host
            # name still selects the known_hosts entry.
            sock = (
                await egress.connect(
                    self.context.egress,
                    self.options.host,
                    self.options.port,
                    connect_timeout=self.timeout,
                )
                if self.context.egress.restricted
                else None
            )
            connection = await asyncssh.connect(
                self.options.host,
                self.options.port,
                sock=sock,
                username=self.options.username,
                password=self._password,
                client_keys=[self._client_key] if self._client_key is not None else None,
                known_hosts=self._known_hosts,
                # Nothing from the worker's own environment: no ~/.ssh/config, agent, default
                # keys or GSS credentials; only what the route configures.
                config=None,
                agent_path=None,
                gss_host=None,
                x509_trusted_certs=None,
                keepalive_interval=30,
                connect_timeout=self.timeout,
            )
            try:
                client = await connection.start_sftp_client()
            except BaseException:
                connection.abort()
                raise
            self._session = (connection, client)
            logger.info("sftp.connected", host=self.options.host, port=self.options.port)
            return self._session

    def _drop(self, connection: asyncssh.SSHClientConnection | None) -> None:
        """Forget and abort a connection whose state is unknown (lost, timed out)."""
        if connection is None:
            return
        if self._session is not None and self._session[0] is connection:
            self._session = None
        connection.abort()

    async def aclose(self) -> None:
        async with self._session_lock:
            if self._session is not None:
                connection, client = self._session
                self._session = None
                client.exit()
                connection.close()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await connection.wait_closed()
