"""A real mail server for connector tests: aiosmtpd on 127.0.0.1, in the test's own event loop.

STARTTLS (required, with a certificate from `pki`), implicit TLS, or plain; AUTH required unless
plain. It records every accepted message as bytes, and reads them back for the contract: S/MIME
messages are decrypted with `cryptography`'s PKCS#7 decryption (the tests that check the
signature and every byte use the ``openssl`` command as the second, independent tool).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography.hazmat.primitives.serialization import pkcs7

from connectors.smtp import SmtpConnector
from ozgbridge.connector import Connector, ConnectorContext
from ozgbridge.testing.contract import Received
from tests.integration.connectors.pki import Pki, shared_pki

USERNAME = "ozgbridge"
PASSWORD = "mail-secret-for-tests"
SENDER = "ozgbridge@kreis-heinsberg.example"
RECIPIENTS = ["poststelle@heinsberg.example"]
Security = Literal["starttls", "tls", "none"]


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class MailServer:
    """Implements the contract's `BackendStandIn`; ``connector()`` points at this server."""

    directory: Path
    security: Security = "starttls"
    smime: bool = False
    sign: bool = False
    pki: Pki = field(default_factory=shared_pki)
    mails: list[Mail] = field(default_factory=list)
    # Replies the server gives instead of accepting, e.g. {"DATA": "451 4.3.0 try later"}.
    replies: dict[str, str] = field(default_factory=dict)
    refuse_recipients: dict[str, str] = field(default_factory=dict)
    port: int = 0
    logins: int = 0

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._stall: asyncio.Event | None = None
        self._connectors: list[Connector[Any]] = []
        self._sessions: list[SMTP] = []
        self.ca_file = self.directory / "ca.pem"
        self.ca_file.write_text(self.pki.ca.cert_pem)
        cert, key = self.pki.server.write(self.directory, "mail-server")
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(cert, key)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            "127.0.0.1",
            0,
            ssl=self._tls if self.security == "tls" else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _protocol(self) -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns about AUTH without STARTTLS, not knowing implicit TLS is TLS too.
            warnings.simplefilter("ignore", UserWarning)
            session = self._smtp()
        self._sessions.append(session)
        return session

    def _smtp(self) -> SMTP:
        return SMTP(
            self,
            hostname="mail.heinsberg.example",
            tls_context=self._tls if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            auth_required=self.security != "none",
            # Implicit TLS is TLS too; aiosmtpd only knows STARTTLS as such.
            auth_require_tls=self.security == "starttls",
            authenticator=self._authenticate,
            loop=asyncio.get_running_loop(),
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USERNAME.encode()
            and data.password == PASSWORD.encode()
        )
        self.logins += ok
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        if "RCPT" in self.replies:
            return self.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._stall is not None:
            await self._stall.wait()
        if "DATA" in self.replies:
            return self.replies["DATA"]
        assert isinstance(envelope.original_content, bytes)
        self.mails.append(
            Mail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.original_content,
                tls=session.ssl is not None or self.security == "tls",
                authenticated=bool(session.authenticated),
            )
        )
        return f"250 2.0.0 Ok: queued as Q{len(self.mails)}"

    def options(self, **overrides: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "security": self.security,
            "sender": SENDER,
            "recipients": RECIPIENTS,
        }
        if self.security == "none":
            options["allow_insecure"] = True
        else:
            options |= {"ca_file": str(self.ca_file), "username": USERNAME, "password": PASSWORD}
        if self.smime:
            smime: dict[str, Any] = {"recipient_certificates": [self.pki.recipient.cert_pem]}
            if self.sign:
                smime |= {
                    "sign_certificate": self.pki.signer.cert_pem,
                    "sign_key": self.pki.signer.key_pem(),
                }
            options["smime"] = smime
        return options | overrides

    def connector(self, *, timeout: float = 10.0, **overrides: Any) -> SmtpConnector:
        context = ConnectorContext(
            tenant_id="heinsberg", route_id="gewerbe", data_dir=self.directory
        )
        connector = SmtpConnector.from_config(
            self.options(**overrides), context=context, timeout=timeout
        )
        assert isinstance(connector, SmtpConnector)
        self._connectors.append(connector)
        return connector

    async def received(self) -> list[Received]:
        return [read_mail(mail.content, self.pki) for mail in self.mails]

    @asynccontextmanager
    async def stalled(self) -> AsyncIterator[None]:
        self._stall = asyncio.Event()
        try:
            yield
        finally:
            self._stall.set()
            self._stall = None

    @asynccontextmanager
    async def failing(self) -> AsyncIterator[None]:
        self.replies["DATA"] = "554 5.6.0 Message content rejected"
        try:
            yield
        finally:
            del self.replies["DATA"]

    async def close(self) -> None:
        for connector in self._connectors:
            await connector.aclose()
        if self._stall is not None:
            self._stall.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Closing the server leaves its connections open (Python 3.11): close those a client
        # left behind, and let each finish, or the test's loop ends with their sockets open.
        for session in self._sessions:
            if session.transport is not None:
                session.transport.close()
        for _ in range(100):
            if all(session.transport is None for session in self._sessions):
                break
            await asyncio.sleep(0.01)


def parse(content: bytes) -> EmailMessage:
    parsed = message_from_bytes(content, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def unwrap(content: bytes, pki: Pki) -> EmailMessage:
    """The ``multipart/mixed`` entity of a mail: decrypted and unsigned if need be."""
    mail = parse(content)
    if mail.get_content_type() == "application/pkcs7-mime":
        enveloped = mail.get_payload(decode=True)
        assert isinstance(enveloped, bytes)
        inner = pkcs7.pkcs7_decrypt_der(enveloped, pki.recipient.certificate, pki.recipient.key, [])
        mail = parse(inner)
    if mail.get_content_type() == "multipart/signed":
        signed = mail.get_payload()
        assert isinstance(signed, list)
        mail = signed[0]
    assert mail.get_content_type() == "multipart/mixed"
    return mail


def read_mail(content: bytes, pki: Pki) -> Received:
    parts = list(unwrap(content, pki).iter_parts())
    text, manifest_part, data_part, *attachment_parts = parts
    assert text.get_content_type() == "text/plain"
    assert manifest_part.get_filename() == "envelope.json"
    manifest = json.loads(_bytes(manifest_part))
    assert len(attachment_parts) == len(manifest["attachments"])
    assert parse(content)["Message-ID"] == (
        f"<ozgbridge.{manifest['deliveryId']}@{SENDER.rpartition('@')[2]}>"
    )
    return Received(
        delivery_id=manifest["deliveryId"],
        application_id=manifest["applicationId"],
        data=_bytes(data_part),
        data_mime_type=manifest["data"]["mimeType"],
        attachments=tuple(_bytes(part) for part in attachment_parts),
    )


def _bytes(part: Any) -> bytes:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload
