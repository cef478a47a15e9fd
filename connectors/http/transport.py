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
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiohttp.abc
import certifi
from yarl import URL

from connectors.http.answer import MAX_RESPONSE_BYTES, HttpAnswer
from ozgbridge.egress import ANYWHERE, EgressPolicy, EgressRefused
from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError

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
    """How to reach one URL: the TLS setting, the proxy and the allowed networks, fixed when the
    connector is built."""

    url: URL
    tls: ssl.SSLContext | bool  # False: no verification; True: `default_tls_context()`
    proxy: URL | None = None
    egress: EgressPolicy = ANYWHERE

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
            connector=_tcp_connector(wire, connections, tls),
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
            if self._proxy is not None and self.wire.egress.restricted:
                await _check_behind_proxy(self.wire)
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
        except (aiohttp.ClientError, TimeoutError, EgressRefused) as exc:
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


def _tcp_connector(
    wire: Wire, connections: int, tls: ssl.SSLContext | bool
) -> aiohttp.TCPConnector:
    if not wire.egress.restricted or wire.proxy is not None:
        # Through a proxy, we connect to the proxy only (the operator's); the target's
        # addresses are checked before each request instead (`_check_behind_proxy`).
        return aiohttp.TCPConnector(limit=connections, ssl=tls)
    return aiohttp.TCPConnector(
        limit=connections,
        ssl=tls,
        resolver=AllowedResolver(wire.egress),
        socket_factory=functools.partial(_allowed_socket, wire.egress),
    )


class AllowedResolver(aiohttp.abc.AbstractResolver):
    """The default resolver, passing on only addresses inside the allowed networks."""

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
    """The last check, on the very address connected to (literal addresses skip resolvers)."""
    family, kind, proto, _name, address = addr_info
    if not policy.allows(str(address[0])):
        raise EgressRefused(str(address[0]), [str(address[0])])
    return socket.socket(family=family, type=kind, proto=proto)


async def _check_behind_proxy(wire: Wire) -> None:
    """Behind a proxy the proxy resolves the target; refuse if any of its addresses (as we
    resolve them) is outside the allowed networks."""
    host = wire.url.host or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, wire.url.port, type=socket.SOCK_STREAM
        )
    except OSError:
        return  # the proxy reports what it cannot resolve
    addresses = sorted({str(info[4][0]) for info in infos})
    refused = [address for address in addresses if not wire.egress.allows(address)]
    if refused:
        raise EgressRefused(host, refused)


def transport_error(
    exc: aiohttp.ClientError | TimeoutError | EgressRefused, target: str, timeout: float
) -> DeliveryError:
    """What went wrong on the wire, naming the target. All of it may heal, so retriable —
    except an address outside the allowed networks: the route is wrong, trying again won't do."""
    refused = exc if isinstance(exc, EgressRefused) else _egress_cause(exc)
    if refused is not None:
        return PermanentDeliveryError(f"{target}: {refused}")
    return RetriableDeliveryError(_describe(exc, target, timeout))


def _egress_cause(exc: BaseException) -> EgressRefused | None:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, EgressRefused):
            return current
        os_error = getattr(current, "os_error", None)
        if isinstance(os_error, EgressRefused):
            return os_error
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _describe(
    exc: aiohttp.ClientError | TimeoutError | EgressRefused, target: str, timeout: float
) -> str:
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
