"""The ``http`` connector: request building and what an answer means (`classify_http_status`)."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from importlib.metadata import PackageNotFoundError, version

import structlog
from yarl import URL

from connectors._signing import signature_header
from connectors.http.answer import (
    MAX_RESPONSE_BYTES,
    HttpAnswer,
    remote_reference,
    status_report,
)
from connectors.http.encoding import encode_body
from connectors.http.options import HttpOptions
from connectors.http.proxy import proxy_for
from connectors.http.transport import Session, Wire
from ozgbridge.connector import (
    ConfigError,
    Connector,
    ConnectorContext,
    ConnectorOptions,
    DeliveryError,
    Envelope,
    PermanentDeliveryError,
    Receipt,
    classify_http_status,
    parse_retry_after,
)
from ozgbridge.status_document import InvalidStatusAnswer
from ozgbridge.status_rules import StatusReport

__all__ = ["MAX_RESPONSE_BYTES", "USER_AGENT", "HttpAnswer", "HttpConnector", "parse_retry_after"]

logger = structlog.get_logger("ozgbridge.connectors.http")

try:
    USER_AGENT = f"ozgbridge/{version('ozgbridge')}"
except PackageNotFoundError:  # a source tree that was never installed
    USER_AGENT = "ozgbridge/0"


# Envelopes up to this size (content bytes) are encoded and signed on the event loop.
INLINE_PREPARE_BYTES = 64 * 1024


class HttpConnector(Connector[HttpOptions]):
    """POSTs each envelope to one URL, over one connection pool per connector."""

    kind = "http"
    Options = HttpOptions

    def __init__(self, options: HttpOptions, *, context: ConnectorContext, timeout: float) -> None:
        super().__init__(options, context=context, timeout=timeout)
        url = URL(str(options.url))
        try:
            proxy = proxy_for(url, os.environ)
        except ValueError as exc:
            raise ConfigError(f"route {context.route_id!r}: {exc}") from None
        # Everything that can be wrong with the wire is found while the configuration loads.
        refused = context.egress.literal_problem(url.host or "")
        if refused is not None:
            raise ConfigError(f"route {context.route_id!r}: url: {refused}")
        self._wire = Wire(url=url, tls=self._tls_verification(), proxy=proxy, egress=context.egress)
        self._keys = options.signing_keys()
        self._static_headers = {k: v.get_secret_value() for k, v in options.headers.items()}
        self._session: Session | None = None
        self._session_lock = asyncio.Lock()

    @classmethod
    def destinations(cls, options: ConnectorOptions) -> list[tuple[tuple[str | int, ...], str]]:
        assert isinstance(options, HttpOptions)
        return [(("url",), options.url.host or "")]

    def describe_target(self) -> str:
        return self._wire.target

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

    async def send(self, envelope: Envelope) -> Receipt:
        if "." in envelope.delivery_id:
            raise PermanentDeliveryError("delivery id contains '.', unusable as webhook-id")
        # Encoding and signing touch every byte of possibly large attachments: those off the
        # loop. A small envelope is done sooner than a thread could be handed it.
        if envelope.content_size <= INLINE_PREPARE_BYTES:
            body, headers = self._prepare(envelope)
        else:
            body, headers = await asyncio.to_thread(self._prepare, envelope)
        return await self._post(body, headers)

    async def post_document(
        self, message_id: str, body: bytes, content_type: str = "application/json"
    ) -> Receipt:
        """POST one document that is no envelope (a portal event), signed with ``message_id`` as
        ``webhook-id``: this connector's transport, signing and answer rules, no timeout (the
        caller's). Returns a receipt or raises a `DeliveryError`."""
        if "." in message_id:
            raise PermanentDeliveryError("message id contains '.', unusable as webhook-id")
        return await self._post(body, self._signed_headers(message_id, body, content_type))

    async def _post(self, body: bytes, headers: dict[str, str]) -> Receipt:
        """Send one signed body and classify the answer (the step every kind of body shares)."""
        session = await self._http_session()
        answer = await session.post(body, headers)
        try:
            return self.classify_response(answer)
        except DeliveryError as error:
            # Whatever decided it was an error (an override, too): keep the answer's start for
            # the people who have to fix it.
            if error.response_excerpt is None:
                error.response_excerpt = answer.excerpt()
            raise

    def classify_response(self, response: HttpAnswer) -> Receipt:
        """The back-end's answer as a receipt, or the `DeliveryError` that says what to do next.

        Override this for a back-end with its own conventions (say, 200 with an error document).
        ``response`` holds at most the first `MAX_RESPONSE_BYTES` of the body. Details name the
        status and the target only: answers can echo the application's personal data (their
        first kilobyte is kept apart, as the error's ``response_excerpt``).
        """
        error = classify_http_status(
            response.status_code,
            target=self.describe_target(),
            retry_after=response.headers.get("retry-after"),
        )
        if error is not None:
            raise error
        return Receipt(
            status_code=response.status_code,
            remote_reference=remote_reference(response),
            status_report=self._status_report(response),
        )

    def _status_report(self, response: HttpAnswer) -> StatusReport | None:
        """A status in the 2xx answer (its first report); a broken one is logged and dropped —
        the application is delivered all the same."""
        try:
            return status_report(response)
        except InvalidStatusAnswer as exc:
            logger.warning(
                "http.status_answer_invalid",
                tenant_id=self.context.tenant_id,
                route_id=self.context.route_id,
                fields=exc.fields,
            )
            return None

    def _prepare(self, envelope: Envelope) -> tuple[bytes, dict[str, str]]:
        body, content_type = encode_body(envelope, self.options.format)
        return body, self._signed_headers(envelope.delivery_id, body, content_type)

    def _signed_headers(self, message_id: str, body: bytes, content_type: str) -> dict[str, str]:
        """Headers for one body: static extras, ids, timestamp and the Standard Webhooks
        signature over exactly ``body``."""
        timestamp = int(time.time())
        headers = {
            **self._static_headers,
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "Idempotency-Key": message_id,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._keys:
            headers["webhook-signature"] = signature_header(self._keys, message_id, timestamp, body)
        return headers

    async def _http_session(self) -> Session:
        async with self._session_lock:
            if self._session is None:
                self._session = await Session.open(
                    self._wire, connections=self.context.concurrency, request_timeout=self.timeout
                )
            return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
