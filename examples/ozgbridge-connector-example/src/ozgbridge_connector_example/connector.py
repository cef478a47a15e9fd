"""The ``zipupload`` connector: one ZIP archive per application, ``POST``ed to a URL.

Written against ``ozgbridge.connector`` only, as any third-party connector would be: the base
class enforces the timeout, logs every attempt and turns stray exceptions into retriable errors;
this class builds the request, translates aiohttp's errors once, and leaves the meaning of an
HTTP status to ozgbridge's shared rule (`classify_http_status`).
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any

import aiohttp
import aiohttp.abc
from pydantic import AnyHttpUrl, SecretStr, field_validator

from ozgbridge.connector import (
    Connector,
    ConnectorContext,
    ConnectorOptions,
    EgressPolicy,
    EgressRefused,
    Envelope,
    PermanentDeliveryError,
    Receipt,
    RetriableDeliveryError,
    classify_http_status,
)
from ozgbridge_connector_example.archive import build_archive

# What of an error answer is kept for the people who fix it (never logged by ozgbridge).
EXCERPT_BYTES = 1024
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ZipUploadOptions(ConnectorOptions):
    """Options of the ``zipupload`` connector.

    ``url`` is where the archive is uploaded; plain ``http://`` is allowed on loopback only.
    ``token``, if set, goes out as ``Authorization: Bearer …`` and must be a secret reference.
    """

    url: AnyHttpUrl
    token: SecretStr | None = None
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _https_unless_loopback(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        if url.scheme != "https" and url.host not in _LOOPBACK:
            raise ValueError("must be https:// (http:// only to 127.0.0.1 or localhost)")
        return url


class ZipUploadConnector(Connector[ZipUploadOptions]):
    """Uploads each envelope as one ZIP archive, one connection pool per route."""

    kind = "zipupload"
    Options = ZipUploadOptions

    def __init__(
        self, options: ZipUploadOptions, *, context: ConnectorContext, timeout: float
    ) -> None:
        super().__init__(options, context=context, timeout=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def destinations(cls, options: ConnectorOptions) -> list[tuple[tuple[str | int, ...], str]]:
        # `config validate` checks a literal address here against the allowed networks.
        assert isinstance(options, ZipUploadOptions)
        return [(("url",), options.url.host or "")]

    def describe_target(self) -> str:
        # Host and port only: a path or query can hold a token.
        url = self.options.url
        return f"{url.host}:{url.port}"

    async def send(self, envelope: Envelope) -> Receipt:
        # Compressing large attachments is CPU work: off the event loop.
        archive = await asyncio.to_thread(build_archive, envelope)
        headers = {
            "Content-Type": "application/zip",
            # The same on every attempt: the back-end drops a repeated upload by it.
            "Idempotency-Key": envelope.delivery_id,
        }
        if self.options.token is not None:
            headers["Authorization"] = f"Bearer {self.options.token.get_secret_value()}"
        try:
            async with self._client().post(
                str(self.options.url), data=archive, headers=headers, allow_redirects=False
            ) as response:
                excerpt = await response.content.read(EXCERPT_BYTES)
                status, location = response.status, response.headers.get("Location")
                retry_after = response.headers.get("Retry-After")
        except aiohttp.ClientError as exc:
            refused = _egress_refusal(exc)
            if refused is not None:  # the route points outside the allowed networks
                raise PermanentDeliveryError(f"{self.describe_target()}: {refused}") from exc
            raise RetriableDeliveryError(
                f"{type(exc).__name__} talking to {self.describe_target()}"
            ) from exc
        error = classify_http_status(status, target=self.describe_target(), retry_after=retry_after)
        if error is not None:
            error.response_excerpt = excerpt.decode("utf-8", "replace").replace("\x00", "") or None
            raise error
        return Receipt(status_code=status, remote_reference=location)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            egress = self.context.egress
            connector = aiohttp.TCPConnector(
                limit=self.context.concurrency,
                ssl=self.options.verify_tls,
                # Only addresses inside OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS, checked on the
                # resolved address and again on the very socket connected.
                resolver=_AllowedResolver(egress) if egress.restricted else None,
                socket_factory=functools.partial(_allowed_socket, egress),
            )
            # The base class bounds each attempt; this only bounds connecting.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _AllowedResolver(aiohttp.abc.AbstractResolver):
    """The default resolver, passing on only allowed addresses (`EgressRefused` if none)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._resolver = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        allowed = set(self._policy.check(host, [result["host"] for result in results]))
        return [result for result in results if result["host"] in allowed]

    async def close(self) -> None:
        await self._resolver.close()


def _allowed_socket(policy: EgressPolicy, addr_info: Any) -> socket.socket:
    family, kind, proto, _name, address = addr_info
    if not policy.allows(str(address[0])):
        raise EgressRefused(str(address[0]), [str(address[0])])
    return socket.socket(family=family, type=kind, proto=proto)


def _egress_refusal(exc: BaseException) -> EgressRefused | None:
    """The `EgressRefused` aiohttp wrapped into its own error, if that is what happened."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return None
        if isinstance(current, EgressRefused):
            return current
        wrapped = getattr(current, "os_error", None)
        if isinstance(wrapped, EgressRefused):
            return wrapped
        current = current.__cause__ or current.__context__
    return None
