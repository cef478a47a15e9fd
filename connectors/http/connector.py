"""The ``http`` connector: request building, the one place httpx errors are translated, outcomes."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import cast

import httpx
import structlog

from connectors._signing import signature_header
from connectors.http.encoding import encode_body
from connectors.http.options import HttpOptions
from ozgbridge.connector import Connector, ConnectorContext, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import ConfigError, PermanentDeliveryError, RetriableDeliveryError

logger = structlog.get_logger("ozgbridge.connectors.http")

try:
    USER_AGENT = f"ozgbridge/{version('ozgbridge')}"
except PackageNotFoundError:  # a source tree that was never installed
    USER_AGENT = "ozgbridge/0"

# Only a reference is read from an answer; a runaway back-end must not fill the worker's memory.
MAX_RESPONSE_BYTES = 64 * 1024
_MAX_REFERENCE_CHARS = 256
_MAX_LOCATION_CHARS = 2048
_WIRE_FORM_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait per ``Retry-After`` (delay-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,10}", text):
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpConnector(Connector[HttpOptions]):
    """POSTs each envelope to one URL, over one connection pool per connector."""

    kind = "http"
    Options = HttpOptions

    def __init__(self, options: HttpOptions, *, context: ConnectorContext, timeout: float) -> None:
        super().__init__(options, context=context, timeout=timeout)
        self._url = str(options.url)
        self._keys = options.signing_keys()
        self._static_headers = {k: v.get_secret_value() for k, v in options.headers.items()}
        self._verify = self._tls_verification()
        self._client: httpx.AsyncClient | None = None
        self._client_lock = asyncio.Lock()

    def _tls_verification(self) -> ssl.SSLContext | bool:
        if not self.options.verify_tls:
            logger.warning(
                "http.tls_verification_disabled",
                tenant_id=self.context.tenant_id,
                route_id=self.context.route_id,
            )
            return False
        if self.options.ca_file is None:
            return True
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

    async def _deliver(self, envelope: Envelope) -> Receipt:
        if "." in envelope.delivery_id:
            raise PermanentDeliveryError("delivery id contains '.', unusable as webhook-id")
        # Encoding and signing touch every byte of possibly large attachments: off the loop.
        body, headers = await asyncio.to_thread(self._prepare, envelope)
        response = await self._send(body, headers)
        return self.classify_response(response)

    def classify_response(self, response: httpx.Response) -> Receipt:
        """The back-end's answer as a receipt, or the `DeliveryError` that says what to do next.

        Override this for a back-end with its own conventions (say, 200 with an error document).
        ``response`` holds at most the first `MAX_RESPONSE_BYTES` of the body. Details name the
        status only: answers can echo the application's personal data.
        """
        status = response.status_code
        if 200 <= status < 300:
            return Receipt(status_code=status, remote_reference=_remote_reference(response))
        detail = f"HTTP {status} from back-end"
        if status in (408, 425, 429) or 500 <= status < 600:
            retry_after = None
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RetriableDeliveryError(detail, status_code=status, retry_after=retry_after)
        raise PermanentDeliveryError(detail, status_code=status)

    def _prepare(self, envelope: Envelope) -> tuple[bytes, dict[str, str]]:
        body, content_type = encode_body(envelope, self.options.format)
        timestamp = int(time.time())
        headers = {
            **self._static_headers,
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "Idempotency-Key": envelope.delivery_id,
            "webhook-id": envelope.delivery_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._keys:
            headers["webhook-signature"] = signature_header(
                self._keys, envelope.delivery_id, timestamp, body
            )
        return body, headers

    async def _send(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST and read a bounded answer; the one place where httpx errors are translated."""
        client = await self._http_client()
        request = client.build_request("POST", self._url, content=body, headers=headers)
        try:
            response = await client.send(request, stream=True)
            try:
                content = await _read_bounded(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise RetriableDeliveryError(
                f"no answer from the back-end within {self.timeout:g} s"
            ) from exc
        except httpx.RequestError as exc:
            # Connection refused or reset, DNS, TLS, protocol errors: the network may heal.
            raise RetriableDeliveryError(f"{type(exc).__name__} talking to the back-end") from exc
        # The body is decoded already (and maybe cut short): without the headers that describe
        # the wire form, httpx does not try to decode it a second time.
        kept = [
            (k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_FORM_HEADERS
        ]
        return httpx.Response(response.status_code, headers=kept, content=content, request=request)

    async def _http_client(self) -> httpx.AsyncClient:
        async with self._client_lock:
            if self._client is None:
                # Building the default TLS context reads the CA bundle from disk.
                self._client = await asyncio.to_thread(self._new_client)
            return self._client

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),  # httpx's default (5 s) would undercut ours
            verify=self._verify,
            follow_redirects=False,  # never re-send a signed application somewhere else
        )

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _read_bounded(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # aclosing: leaving the loop early must close the generator now, not at garbage collection.
    stream = cast(AsyncGenerator[bytes, None], response.aiter_bytes())  # typed as an iterator
    async with aclosing(stream):
        async for chunk in stream:
            chunks.append(chunk[: MAX_RESPONSE_BYTES - size])
            size += len(chunks[-1])
            if size >= MAX_RESPONSE_BYTES:
                break
    return b"".join(chunks)


def _remote_reference(response: httpx.Response) -> str | None:
    """``id`` or ``reference`` from a JSON answer, else the ``Location`` header, else None."""
    if "json" in response.headers.get("content-type", "").split(";", 1)[0]:
        try:
            document = response.json()
        except ValueError:
            document = None
        if isinstance(document, dict):
            for key in ("id", "reference"):
                value = document.get(key)
                if isinstance(value, str | int) and not isinstance(value, bool):
                    text = str(value)
                    if 0 < len(text) <= _MAX_REFERENCE_CHARS:
                        return text
    location: str | None = response.headers.get("location")
    if location and len(location) <= _MAX_LOCATION_CHARS:
        return location
    return None
