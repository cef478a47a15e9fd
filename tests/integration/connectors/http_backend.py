"""A real HTTP back-end stand-in: an aiohttp server on 127.0.0.1 that records what arrives.

It checks Standard Webhooks signatures with `connectors._signing.verify_signature` — as a real
back-end would, it answers 401 to a request whose signature does not verify when it has secrets —
and answers with queued responses (default: 200 ``{"id": "FV-<n>"}``). Its multipart parser is
written independently of the connector's encoder, so a round trip proves the wire format.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors._signing import verify_signature
from connectors.http import HttpConnector
from ozgbridge.connector import Connector, ConnectorContext
from ozgbridge.testing.contract import Received

CONTEXT = ConnectorContext(tenant_id="heinsberg", route_id="gewerbe", data_dir=Path("/nonexistent"))


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Recorded:
    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_valid: bool | None  # None: the back-end has no secret to check with
    answered: int | None = None  # status answered; None while stalled or cut off


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    content: bytes


class HttpBackend:
    """Start with `start()`, get connectors from `connector()`, stop with `close()`.

    Implements the contract's `BackendStandIn`.
    """

    def __init__(self, secrets: Sequence[str] = (), *, body_format: str = "json") -> None:
        self.secrets = list(secrets)
        self.body_format = body_format
        self._connectors: list[Connector[Any]] = []
        self.requests: list[Recorded] = []
        self.answers: deque[Answer] = deque()
        self.peers: set[tuple[str, int]] = set()  # one (address, port) per connection used
        self.stalling = False
        self.failing_now = False
        self._release = asyncio.Event()
        self._arrived = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/deliveries", self._handle)
        self._server = TestServer(app, host="127.0.0.1")

    async def start(self) -> None:
        await self._server.start_server()

    async def close(self) -> None:
        self._release.set()
        for connector in self._connectors:
            await connector.aclose()
        await self._server.close()

    def connector(self, *, timeout: float = 10.0, **options: Any) -> HttpConnector:
        """An HttpConnector for this back-end, signing with its secrets unless overridden."""
        defaults: dict[str, Any] = {"format": self.body_format}
        if self.secrets:
            defaults["signing_secret"] = self.secrets
        connector = http_connector(self.url, timeout=timeout, **{**defaults, **options})
        self._connectors.append(connector)
        return connector

    async def received(self) -> list[Received]:
        return self.accepted()

    @asynccontextmanager
    async def failing(self) -> AsyncIterator[None]:
        self.failing_now = True
        try:
            yield
        finally:
            self.failing_now = False

    @property
    def url(self) -> str:
        return str(self._server.make_url("/deliveries"))

    def answer(
        self, status: int, *, headers: dict[str, str] | None = None, json_body: Any = None
    ) -> None:
        """Queue one answer; without queued answers every request gets 200 with an id."""
        body = b"" if json_body is None else json.dumps(json_body).encode()
        all_headers = {"Content-Type": "application/json"} if json_body is not None else {}
        self.answers.append(Answer(status, {**all_headers, **(headers or {})}, body))

    async def wait_for_requests(self, count: int, *, within: float = 10.0) -> None:
        """Until ``count`` requests have arrived (TimeoutError after ``within`` seconds)."""
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)

    @asynccontextmanager
    async def stalled(self) -> AsyncIterator[None]:
        self.stalling, self._release = True, asyncio.Event()
        try:
            yield
        finally:
            self.stalling = False
            self._release.set()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        valid = (
            any(verify_signature(secret, headers, body) for secret in self.secrets)
            if self.secrets
            else None
        )
        record = Recorded(headers=headers, body=body, signature_valid=valid)
        self.requests.append(record)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is not None:
            self.peers.add((peer[0], peer[1]))
        async with self._arrived:
            self._arrived.notify_all()
        if self.stalling:
            await self._release.wait()
            return web.Response(status=200)
        if valid is False:
            answer = Answer(401)
        elif self.failing_now:
            answer = Answer(500, body=b"Internal error while storing Mustermann")
        elif self.answers:
            answer = self.answers.popleft()
        else:
            reference = json.dumps({"id": f"FV-{len(self.requests)}"}).encode()
            answer = Answer(200, {"Content-Type": "application/json"}, reference)
        record.answered = answer.status
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    def accepted(self) -> list[Received]:
        """What the back-end took over (2xx), decoded from either body format."""
        return [to_received(r) for r in self.requests if r.answered and 200 <= r.answered < 300]


def http_connector(
    url: str, *, timeout: float = 10.0, context: ConnectorContext = CONTEXT, **options: Any
) -> HttpConnector:
    """An HttpConnector built the way the configuration builds it; the caller closes it."""
    connector = HttpConnector.from_config({"url": url, **options}, context=context, timeout=timeout)
    assert isinstance(connector, HttpConnector)
    return connector


def target(backend: HttpBackend) -> str:
    """How the connector names this back-end in errors: scheme://host:port/path."""
    return backend.url


def to_received(record: Recorded) -> Received:
    headers = record.headers
    assert headers["webhook-id"] == headers["idempotency-key"]
    if headers["content-type"].startswith("multipart/form-data"):
        parts = parse_multipart(record.body, headers["content-type"])
        [envelope] = [p for p in parts if p.name == "envelope"]
        [data] = [p for p in parts if p.name == "data"]
        manifest = json.loads(envelope.content)
        assert data.content_type is not None
        return Received(
            delivery_id=headers["idempotency-key"],
            application_id=manifest["applicationId"],
            data=data.content,
            data_mime_type=data.content_type,
            attachments=tuple(p.content for p in parts if p.name == "attachment"),
        )
    assert headers["content-type"] == "application/json"
    document = json.loads(record.body)
    return Received(
        delivery_id=headers["idempotency-key"],
        application_id=document["applicationId"],
        data=base64.b64decode(document["data"]["contentBase64"], validate=True),
        data_mime_type=document["data"]["mimeType"],
        attachments=tuple(
            base64.b64decode(a["contentBase64"], validate=True) for a in document["attachments"]
        ),
    )


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """A strict RFC 7578 reader: CRLF line ends, exact delimiters, nothing before or after."""
    match = re.fullmatch(r'multipart/form-data; boundary="?([^";]+)"?', content_type)
    assert match, content_type
    delimiter = b"--" + match.group(1).encode("ascii")
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for chunk in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, separator, content = chunk.partition(b"\r\n\r\n")
        assert separator, "part without header/body separator"
        fields = dict(line.split(": ", 1) for line in head.decode("utf-8").split("\r\n"))
        disposition = fields["Content-Disposition"]
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        assert name
        parts.append(
            Part(
                name=name.group(1),
                filename=filename.group(1) if filename else None,
                content_type=fields.get("Content-Type"),
                content=content,
            )
        )
    return parts
