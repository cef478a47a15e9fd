"""The ``smtp`` connector: compose off the event loop, send over a fresh connection, classify."""

from __future__ import annotations

import asyncio
import socket
import ssl
from datetime import UTC, datetime

import aiosmtplib
import structlog

from connectors.smtp import message, replies
from connectors.smtp.options import SmtpOptions
from connectors.smtp.smime import Smime
from ozgbridge import egress
from ozgbridge.connector import Connector, ConnectorContext, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import ConfigError

logger = structlog.get_logger("ozgbridge.connectors.smtp")


class SmtpConnector(Connector[SmtpOptions]):
    """Mails each envelope to fixed recipients, S/MIME encrypted if configured."""

    kind = "smtp"
    Options = SmtpOptions

    def __init__(self, options: SmtpOptions, *, context: ConnectorContext, timeout: float) -> None:
        super().__init__(options, context=context, timeout=timeout)
        self._password = options.password.get_secret_value() if options.password else None
        # Certificates and keys are parsed once, while the configuration loads.
        self._smime = Smime.from_options(options.smime) if options.smime else None
        self._tls: ssl.SSLContext | None = self._custom_ca_context()
        self._tls_lock = asyncio.Lock()
        self._quitting: set[asyncio.Task[None]] = set()

    def describe_target(self) -> str:
        return f"the mail server {self.options.host}:{self.options.server_port()}"

    @classmethod
    def option_warnings(cls, options: ConnectorOptions) -> list[tuple[tuple[str | int, ...], str]]:
        assert isinstance(options, SmtpOptions)
        return options.warnings()

    @classmethod
    def destinations(cls, options: ConnectorOptions) -> list[tuple[tuple[str | int, ...], str]]:
        assert isinstance(options, SmtpOptions)
        return [(("host",), options.host)]

    def _custom_ca_context(self) -> ssl.SSLContext | None:
        if self.options.ca_file is None:
            return None
        path = self.options.ca_file
        if not path.is_absolute():
            path = self.context.data_dir / path
        # Loaded while the configuration loads, so a wrong file stops the start, not a delivery.
        try:
            return ssl.create_default_context(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"route {self.context.route_id!r}: ca_file {str(path)!r} cannot be loaded "
                f"({type(exc).__name__})"
            ) from exc

    async def send(self, envelope: Envelope) -> Receipt:
        message_id = message.message_id(envelope, self.options.sender)
        # Encoding and encrypting touch every byte of possibly large attachments: off the loop.
        raw = await asyncio.to_thread(self.compose, envelope, message_id, datetime.now(UTC))
        refused = await self._send(raw)
        recipients = len(self.options.recipients)
        detail = None
        if refused:
            # At least one mailbox has the application: sending again would duplicate it there.
            detail = f"accepted for {recipients - len(refused)} of {recipients} recipients"
            logger.warning(
                "smtp.recipients_refused",
                delivery_id=envelope.delivery_id,
                refused=len(refused),
                codes=sorted({response.code for response in refused.values()}),
            )
        logger.info(
            "smtp.sent",
            delivery_id=envelope.delivery_id,
            application_id=envelope.application_id,
            message_id=message_id,
            bytes=len(raw),
            encrypted=self._smime is not None,
            signed=self._smime is not None and self._smime.signs,
        )
        return Receipt(remote_reference=message_id, status_code=250, detail=detail)

    def compose(self, envelope: Envelope, message_id: str, now: datetime) -> bytes:
        """The complete message as sent (headers and body, CRLF line ends)."""
        mail = message.content_entity(envelope, message_id)
        if self._smime is not None:
            mail = self._smime.protect(message.to_bytes(mail))
        message.outer_headers(mail, envelope, self.options, message_id_value=message_id, now=now)
        return message.to_bytes(mail)

    async def check(self) -> Receipt:
        """A route test must not put a ping into the authority's mailbox: the session goes as
        far as a delivery's — TLS, login, the sender and every recipient accepted — and is then
        reset and ended without DATA, so no mail is sent."""
        options = self.options
        client = await self._client()
        try:
            async with asyncio.timeout(self.timeout):
                await client.connect()
                try:
                    await client.mail(options.sender)
                    for recipient in options.recipients:
                        await client.rcpt(recipient)
                    await client.rset()
                finally:
                    await _quit(client)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise replies.translate(
                exc, target=self.describe_target(), timeout=self.timeout
            ) from exc
        return Receipt(status_code=250, detail=f"{len(options.recipients)} recipients accepted")

    async def _client(self) -> aiosmtplib.SMTP:
        options = self.options
        # With allowed networks, connect here, to a checked address (egress.py).
        sock = await self._allowed_socket() if self.context.egress.restricted else None
        return aiosmtplib.SMTP(
            hostname=options.host,
            port=None if sock is not None else options.server_port(),
            sock=sock,
            username=options.username,
            password=self._password,
            local_hostname=options.helo_name,
            timeout=self.timeout,
            use_tls=options.security == "tls",
            # True, not None: never fall back to clear text when STARTTLS is missing.
            start_tls=options.security == "starttls",
            tls_context=await self._tls_context() if options.security != "none" else None,
        )

    async def _send(self, raw: bytes) -> dict[str, aiosmtplib.SMTPResponse]:
        """One SMTP session; the one place where aiosmtplib's errors are translated."""
        options = self.options
        client = await self._client()
        try:
            await client.connect()
            try:
                refused, _ = await client.sendmail(options.sender, options.recipients, raw)
            except BaseException:
                client.close()
                raise
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise replies.translate(
                exc, target=self.describe_target(), timeout=self.timeout
            ) from exc
        # The server has the mail now. QUIT runs on its own, so that a slow goodbye can neither
        # hold up the worker nor turn an accepted mail into a timeout and then a duplicate.
        quitting = asyncio.create_task(_quit(client))
        self._quitting.add(quitting)
        quitting.add_done_callback(self._quitting.discard)
        return refused

    async def _allowed_socket(self) -> socket.socket:
        port = self.options.server_port()
        try:
            return await egress.connect(
                self.context.egress, self.options.host, port, connect_timeout=self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise replies.translate(
                exc, target=self.describe_target(), timeout=self.timeout
            ) from exc

    async def aclose(self) -> None:
        if self._quitting:
            await asyncio.wait(self._quitting, timeout=self.timeout)

    async def _tls_context(self) -> ssl.SSLContext:
        async with self._tls_lock:
            if self._tls is None:
                # Building the default context reads the system's CA bundle from disk.
                self._tls = await asyncio.to_thread(ssl.create_default_context)
            return self._tls


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        client.close()
