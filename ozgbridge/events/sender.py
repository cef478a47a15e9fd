"""Sending portal events: one ``http`` connector per portal key with ``events`` configured.

Events go out exactly as the http connector sends applications — the same transport, TLS and
proxy rules, Standard Webhooks signature (``webhook-id`` = event id) and the same reading of the
answer (2xx sent; 408, 425, 429, 5xx and network errors retried; other answers final).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import structlog

from ozgbridge.connector import Connector, ConnectorContext, Receipt, connector_class
from ozgbridge.errors import ConfigError, DeliveryError, RetriableDeliveryError
from ozgbridge.settings import Settings
from ozgbridge.store.outbox import ClaimedEvent
from ozgbridge.tenants import Deployment, PortalEvents

logger = structlog.get_logger("ozgbridge.events")

ROUTE_ID = "events"  # how a portal's event channel appears in connector logs


@runtime_checkable
class DocumentPoster(Protocol):
    """A connector that can POST a signed document that is not an envelope (the http one)."""

    async def post_document(
        self, message_id: str, body: bytes, content_type: str = "application/json"
    ) -> Receipt: ...


class PortalSender:
    def __init__(self, deployment: Deployment, settings: Settings) -> None:
        """Builds every portal's connector now: bad options stop the start, not an event."""
        self.settings = settings
        self.configs: dict[str, PortalEvents] = {
            key.id: key.events for key in deployment.keys if key.events is not None
        }
        self._connectors: dict[str, Connector[Any]] = {}
        data_dir = settings.data_dir.resolve()
        for key_id, config in self.configs.items():
            timeout = self.timeout(key_id)
            if timeout >= settings.lease_seconds:
                raise ConfigError(
                    f"keys.yaml {key_id}: events timeout {timeout:g} s must be shorter than "
                    f"OZGBRIDGE_LEASE_SECONDS ({settings.lease_seconds:g} s)"
                )
            context = ConnectorContext(
                tenant_id=f"portal:{key_id}",
                route_id=ROUTE_ID,
                data_dir=data_dir,
                concurrency=settings.worker_concurrency,
            )
            connector = connector_class("http").from_config(
                config.connector_options(), context=context, timeout=timeout
            )
            if not isinstance(connector, DocumentPoster):
                raise ConfigError("the installed http connector cannot send portal events")
            self._connectors[key_id] = connector

    @property
    def connectors(self) -> Mapping[str, Connector[Any]]:
        return self._connectors

    def timeout(self, key_id: str) -> float:
        config = self.configs.get(key_id)
        return (config.timeout if config else None) or self.settings.delivery_timeout

    def schedule(self, key_id: str) -> list[float] | None:
        config = self.configs.get(key_id)
        return config.retry_schedule if config else None

    async def send(self, event: ClaimedEvent) -> Receipt:
        """Send once; a receipt, or a `DeliveryError` saying whether to try again."""
        connector = self._connectors.get(event.key_id)
        if connector is None:
            # The key lost its events (or the key is gone): nobody to send to — visible as dead.
            raise RetriableDeliveryError(
                f"portal key {event.key_id!r} has no events configured (any more)"
            )
        assert isinstance(connector, DocumentPoster)
        timeout = self.timeout(event.key_id)
        try:
            async with asyncio.timeout(timeout):
                return await connector.post_document(event.id, event.body.encode("utf-8"))
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
