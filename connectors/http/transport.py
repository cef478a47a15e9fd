"""The wire under the ``http`` connector: one aiohttp session per connector, TLS, proxy, and the
one place where aiohttp's errors become `RetriableDeliveryError`s that name the target.

aiohttp rather than httpx because it is the fast client here: posting the same 1.7 KB body to the
same local aiohttp server (2 cores, 16 and 32 concurrent requests, one run), bare aiohttp did
~6,900–11,100/s, httpx over the ``httpx-aiohttp`` transport ~3,200–4,100/s and plain httpx
~480–610/s.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import functools
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import certifi
from yarl import URL

from connectors.http.answer import MAX_RESPONSE_BYTES, HttpAnswer
from ozgbridge.errors import RetriableDeliveryError

_MAX_TARGET_CHARS = 200


def describe_target(url: URL) -> str:
    """``scheme://host:port/path`` for messages: no credentials, query or fragment (secrets)."""
    host = url.host or ""
    if ":" in host:
        host = f"[{host}]"
    text = f"{url.scheme}://{host}:{url.port}{url.raw_path}"
    return text if len(text) <= _MAX_TARGET_CHARS else text[: _MAX_TARGET_CHARS - 1] + "…"


def default_tls_context() -> ssl.SSLContext:
    """What httpx verified against: ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi.

    Shared by every connector: building one reads a whole CA bundle.
    """
    return _tls_context(os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class Wire:
    """How to reach one URL: the TLS setting and the proxy, fixed when the connector is built."""

    url: URL
    tls: ssl.SSLContext | bool  # False: no verification; True: `default_tls_context()`
    proxy: URL | None = None

    @property
    def target(self) -> str:
        return describe_target(self.url)


class Session:
    """One aiohttp session (one connection pool) for one connector; close with `close()`."""

    @classmethod
    async def open(cls, wire: Wire, *, connections: int, request_timeout: float) -> Session:
        # Off the loop: the first default context reads the whole CA bundle from disk.
        tls = await asyncio.to_thread(default_tls_context) if wire.tls is True else wire.tls
        return cls(wire, tls, connections=connections, timeout=request_timeout)

    def __init__(
        self, wire: Wire, tls: ssl.SSLContext | bool, *, connections: int, timeout: float
    ) -> None:
        """Call inside the event loop; ``tls`` is False (no verification) or a context."""
        self.wire = wire
        self.timeout = timeout
        self._proxy = wire.proxy
        self._proxy_headers: dict[str, str] | None = None  # on the CONNECT request (https)
        self._request_headers: dict[str, str] = {}  # on the request itself (http)
        if wire.proxy is not None and wire.proxy.user is not None:
            # Basic credentials in the proxy URL (RFC 7617, UTF-8), as httpx sent them; never
            # inside the TLS tunnel, where the back-end would read them.
            pair = f"{wire.proxy.user}:{wire.proxy.password or ''}".encode()
            credentials = {"Proxy-Authorization": f"Basic {base64.b64encode(pair).decode()}"}
            if wire.url.scheme == "https":
                self._proxy_headers = credentials
            else:
                self._request_headers = credentials
            self._proxy = wire.proxy.with_user(None)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, ssl=tls),
            # The same bound as the connector's own timeout; whichever fires, the attempt is
            # retriable and the message names the target.
            timeout=aiohttp.ClientTimeout(total=timeout),
            # A webhook sender is stateless: no cookie set by one answer rides along with the
            # next application. Proxy and TLS come from `Wire`, not from per-request lookups.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )

    @property
    def closed(self) -> bool:
        return self._session.closed

    async def post(self, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        """POST once (redirects are never followed: a signed application goes to one place)."""
        try:
            async with self._session.post(
                self.wire.url,
                data=body,
                headers={**headers, **self._request_headers} if self._request_headers else headers,
                allow_redirects=False,
                proxy=self._proxy,
                proxy_headers=self._proxy_headers,
            ) as response:
                content = await _read_bounded(response)
                return HttpAnswer(response.status, response.headers, content)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, self.wire.target, self.timeout) from exc

    async def close(self) -> None:
        await self._session.close()


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_RESPONSE_BYTES:
        chunk = await response.content.read(MAX_RESPONSE_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if not response.content.at_eof():
        response.close()  # the rest is never read: drop the connection instead of draining it
    return b"".join(chunks)


def transport_error(
    exc: aiohttp.ClientError | TimeoutError, target: str, timeout: float
) -> RetriableDeliveryError:
    """What went wrong on the wire, naming the target; all of it may heal, so all retriable."""
    return RetriableDeliveryError(_describe(exc, target, timeout))


def _describe(exc: aiohttp.ClientError | TimeoutError, target: str, timeout: float) -> str:
    # Most specific first: the aiohttp classes inherit from each other (and from OSError).
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return f"no answer from {target} within {timeout:g} s"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause = exc.certificate_error
        reason = getattr(cause, "verify_message", None) or type(cause).__name__
        return f"TLS certificate of {target} not accepted: {reason}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        reason = getattr(exc.os_error, "reason", None) or type(exc.os_error).__name__
        return f"TLS handshake with {target} failed: {reason}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"host name of {target} cannot be resolved"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"cannot connect to the proxy for {target}: {_os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if exc.os_error.errno == errno.ECONNREFUSED:
            return f"connection refused by {target}"
        return f"cannot connect to {target}: {_os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{target} closed the connection without an answer"
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"the proxy refused the connection to {target} (HTTP {exc.status})"
    if isinstance(exc, aiohttp.ClientResponseError):  # the answer could not be parsed
        return f"invalid HTTP answer from {target}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the answer from {target} broke off"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection to {target} failed: {_os_reason(exc)}"
    return f"{type(exc).__name__} talking to {target}"


def _os_reason(error: OSError) -> str:
    if error.errno is not None:
        return os.strerror(error.errno)
    return type(error).__name__
