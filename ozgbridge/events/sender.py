"""Sending portal events: one connector per portal key with ``events`` configured.

The connector is the installed portal events transport (`ozgbridge.event_transport`; the built-in
Standard Webhooks connector registers itself): events go out exactly as it sends applications —
the same transport, TLS and proxy rules, signature (``webhook-id`` = event id) and the same
reading of the answer (2xx sent; 408, 425, 429, 5xx and network errors retried; other answers
final).

The sender is the one place an event body is opened (it is sealed at rest, see
`ozgbridge.store.outbox`). A body that cannot be opened fails only its event: retried while its
data key is missing (the operator can add it back), dead if it does not authenticate or
retention deleted it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import structlog

from ozgbridge.connector import Connector, ConnectorContext, Receipt
from ozgbridge.dataprotection.sealing import Sealer, portal_event_body_aad
from ozgbridge.errors import (
    ConfigError,
    DataProtectionError,
    DeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from ozgbridge.event_transport import event_transport_class
from ozgbridge.settings import Settings
from ozgbridge.store.envelopes import as_delivery_error
from ozgbridge.store.outbox import ClaimedEvent
from ozgbridge.tenants import ApiKey, PortalEvents

logger = structlog.get_logger("ozgbridge.events")

ROUTE_ID = "events"  # how a portal's event channel appears in connector logs


@runtime_checkable
class DocumentPoster(Protocol):
    """A connector that can POST a signed document that is not an envelope."""

    async def post_document(
        self, message_id: str, body: bytes, content_type: str = "application/json"
    ) -> Receipt: ...


class PortalSender:
    """Sends with the configuration of the moment: ``keys()`` gives the current API keys (they
    change on reload). A connector is built the first time a key's events settings are used and
    kept for them; settings changed by a reload get a new one, and every connector is closed at
    shutdown (a send in flight finishes with the connector it began with).

    ``sealer`` opens the stored bodies (the process's data keys)."""

    def __init__(
        self, keys: Callable[[], Sequence[ApiKey]], settings: Settings, *, sealer: Sealer
    ) -> None:
        self.keys = keys
        self.settings = settings
        self.sealer = sealer
        self._connectors: dict[tuple[str, str], Connector[Any]] = {}

    def config(self, key_id: str) -> PortalEvents | None:
        for key in self.keys():
            if key.id == key_id:
                return key.events
        return None

    def schedule(self, key_id: str) -> list[float] | None:
        config = self.config(key_id)
        return config.retry_schedule if config else None

    def _timeout(self, config: PortalEvents) -> float:
        return config.timeout or self.settings.delivery_timeout

    def connector(self, key_id: str, config: PortalEvents) -> Connector[Any]:
        """The connector for these settings (built now if new); `ConfigError` if it cannot be."""
        options = config.connector_options()
        timeout = self._timeout(config)
        if timeout >= self.settings.lease_seconds:
            raise ConfigError(
                f"keys.yaml {key_id}: events timeout {timeout:g} s must be shorter than "
                f"OZGBRIDGE_LEASE_SECONDS ({self.settings.lease_seconds:g} s)"
            )
        # Identified by every setting (secrets included, hashed): a reload that changes any of
        # them gets a fresh connector.
        identity = hashlib.sha256(
            json.dumps([options, timeout], sort_keys=True, default=str).encode()
        ).hexdigest()
        connector = self._connectors.get((key_id, identity))
        if connector is None:
            context = ConnectorContext(
                tenant_id=f"portal:{key_id}",
                route_id=ROUTE_ID,
                data_dir=self.settings.data_dir.resolve(),
                concurrency=self.settings.worker_concurrency,
            )
            connector = event_transport_class().from_config(
                options, context=context, timeout=timeout
            )
            if not isinstance(connector, DocumentPoster):
                raise ConfigError(
                    f"the installed portal events connector ({connector.kind}) cannot post "
                    "documents"
                )
            self._connectors[(key_id, identity)] = connector
        return connector

    def check(self) -> None:
        """Build every configured portal's connector now: bad settings stop the start."""
        for key in self.keys():
            if key.events is not None:
                self.connector(key.id, key.events)

    def body(self, event: ClaimedEvent) -> bytes:
        """The event's JSON document, opened; a `DeliveryError` when it cannot be."""
        if event.body is None:
            raise PermanentDeliveryError(
                "the event's body was deleted by retention with the application's content: "
                "it can no longer be sent"
            )
        try:
            return self.sealer.open(
                event.body,
                event.body_key_id,
                portal_event_body_aad(event.id),
                what=f"the body of portal event {event.id}",
            )
        except DataProtectionError as exc:
            logger.warning(
                "store.content_unreadable",
                event_id=event.id,
                application_id=event.application_id,
                error=type(exc).__name__,
                key_id=getattr(exc, "key_id", None),
            )
            raise as_delivery_error(exc) from exc

    async def send(self, event: ClaimedEvent) -> Receipt:
        """Send once; a receipt, or a `DeliveryError` saying whether to try again."""
        body = self.body(event)
        config = self.config(event.key_id)
        if config is None:
            # The key lost its events (or the key is gone): nobody to send to. Retried along the
            # ladder — another process may still have them — and visible, dead at its end.
            raise RetriableDeliveryError(
                f"portal key {event.key_id!r} has no events configured (any more)"
            )
        try:
            connector = self.connector(event.key_id, config)
        except ConfigError as exc:
            raise RetriableDeliveryError(f"portal events of {event.key_id!r}: {exc}") from exc
        assert isinstance(connector, DocumentPoster)
        timeout = self._timeout(config)
        try:
            async with asyncio.timeout(timeout):
                return await connector.post_document(event.id, body)
        except DeliveryError:
            raise
        except TimeoutError as exc:
            raise RetriableDeliveryError(
                f"no answer from {connector.describe_target()} within {timeout:g} s"
            ) from exc
        except Exception as exc:
            logger.exception("portal_event.unexpected_error", event_id=event.id)
            raise RetriableDeliveryError(f"unexpected {type(exc).__name__} sending event") from exc

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
        self._connectors.clear()
