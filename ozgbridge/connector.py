"""The connector API: everything a connector needs, in one import (``__all__`` is the contract).

A connector class has a ``kind`` name, a pydantic ``Options`` model (validated when the
configuration loads, so bad options fail at start-up) and implements `Connector.send`. The base
class owns what every connector shares: `Connector.deliver` — what the worker calls — wraps
``send`` with the timeout (mapped to a retriable error), timing, logging, and turns unexpected
exceptions into errors the worker understands. Connectors are found through the entry-point
group ``ozgbridge.connectors`` (`ozgbridge.connector_registry`, re-exported here); the built-ins
register exactly like a third-party package does.

Connectors that speak HTTP decide what an answer means with `classify_http_status` (one rule for
all of them). ``ozgbridge.testing`` holds the contract suite every connector must pass;
``docs/connectors.md`` walks through writing one.
"""

from __future__ import annotations

import abc
import asyncio
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict

from ozgbridge.configfile import FieldValueError
from ozgbridge.connector_registry import (
    ENTRY_POINT_GROUP,
    InstalledConnector,
    available_kinds,
    connector_class,
    installed_connectors,
)
from ozgbridge.domain import AttachmentData, Envelope, FormData, RegionRef, ServiceRef, utcnow
from ozgbridge.egress import ANYWHERE, EgressPolicy, EgressRefused
from ozgbridge.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from ozgbridge.http_status import classify_http_status, is_retriable_status, parse_retry_after
from ozgbridge.ids import new_id
from ozgbridge.status_rules import StatusReport

__all__ = [
    "ENTRY_POINT_GROUP",
    "AttachmentData",
    "ConfigError",
    "Connector",
    "ConnectorContext",
    "ConnectorOptions",
    "DeliveryError",
    "EgressPolicy",
    "EgressRefused",
    "Envelope",
    "FieldValueError",
    "FormData",
    "InstalledConnector",
    "PermanentDeliveryError",
    "Receipt",
    "RegionRef",
    "RetriableDeliveryError",
    "ServiceRef",
    "available_kinds",
    "classify_http_status",
    "connector_class",
    "installed_connectors",
    "is_retriable_status",
    "parse_retry_after",
    "ping_envelope",
]

logger = structlog.get_logger("ozgbridge.connector")


class ConnectorOptions(BaseModel):
    """Base for every connector's ``Options``: unknown keys are typos, and typos are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Receipt(BaseModel):
    """Proof that the back-end has the application.

    ``status_report``: the back-end's answer also said how the authority takes the application
    (e.g. ``{"status": "confirmed"}``); it is recorded as its first status report, with the
    delivery, in one transaction.
    """

    model_config = ConfigDict(frozen=True)

    remote_reference: str | None = None
    status_code: int | None = None
    detail: str | None = None
    status_report: StatusReport | None = None


@dataclass(frozen=True)
class ConnectorContext:
    """Where a connector lives: its route, and the base for relative paths."""

    tenant_id: str
    route_id: str
    data_dir: Path
    # How many deliveries the worker runs at once (OZGBRIDGE_WORKER_CONCURRENCY): any one route
    # may get all of them, so a connection pool of this size never makes a delivery wait.
    concurrency: int = 16
    # Where deliveries may connect to (OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS; see egress.py).
    egress: EgressPolicy = ANYWHERE


OptionsT = TypeVar("OptionsT", bound=ConnectorOptions)


class Connector(abc.ABC, Generic[OptionsT]):
    """Hands one envelope to one back-end. Subclasses implement `send` (and maybe `aclose`)."""

    kind: ClassVar[str]
    Options: ClassVar[type[ConnectorOptions]]

    def __init__(self, options: OptionsT, *, context: ConnectorContext, timeout: float) -> None:
        self.options = options
        self.context = context
        self.timeout = timeout

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Connectors written before `send` had its name implement `_deliver`; they keep working
        # for one release (with a DeprecationWarning), so a plug-in can move at its own pace.
        if "_deliver" in cls.__dict__ and not _implements_send(cls):
            warnings.warn(
                f"{cls.__module__}.{cls.__qualname__} implements _deliver, which is deprecated: "
                "rename it to send",
                DeprecationWarning,
                stacklevel=3,
            )
            cls.send = _send_via_deliver  # type: ignore[method-assign]

    @classmethod
    def from_config(
        cls, raw_options: dict[str, Any], *, context: ConnectorContext, timeout: float
    ) -> Connector[Any]:
        """Validate raw (secrets resolved) options and build the connector, or ValidationError."""
        options = cls.Options.model_validate(raw_options)
        return cls(options, context=context, timeout=timeout)  # type: ignore[arg-type]

    async def deliver(self, envelope: Envelope) -> Receipt:
        """Deliver once. Returns a receipt, or raises a `DeliveryError` subclass — nothing else."""
        log = logger.bind(
            connector=self.kind,
            tenant_id=self.context.tenant_id,
            route_id=self.context.route_id,
            delivery_id=envelope.delivery_id,
            attempt=envelope.attempt,
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                receipt = await self.send(envelope)
        except TimeoutError as exc:
            error: DeliveryError = RetriableDeliveryError(
                f"no answer from {self.describe_target()} within {self.timeout:g} s"
            )
            error.__cause__ = exc
        except DeliveryError as exc:
            error = exc
        except Exception as exc:
            # A bug or an unforeseen library error: keep the application (retry, then dead)
            # rather than lose it, and make the cause visible to the operator.
            log.exception("connector.unexpected_error")
            error = RetriableDeliveryError(f"unexpected {type(exc).__name__} in connector")
            error.__cause__ = exc
        else:
            log.info(
                "connector.delivered",
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                remote_reference=receipt.remote_reference,
            )
            return receipt
        log.info(
            "connector.failed",
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            retriable=error.retriable,
            status_code=error.status_code,
            error=error.detail,
        )
        raise error

    @classmethod
    def option_warnings(cls, options: ConnectorOptions) -> list[tuple[tuple[str | int, ...], str]]:
        """Advice on valid but risky options, as (location below ``options``, message) pairs.

        ``ozgbridge config validate`` prints these as warnings and the service logs them at
        start-up; neither fails. Override for choices a connector allows but should not hide,
        such as an unencrypted transport.
        """
        return []

    @classmethod
    def destinations(cls, options: ConnectorOptions) -> list[tuple[tuple[str | int, ...], str]]:
        """The hosts this connector connects to, as (location below ``options``, host) pairs.

        ``ozgbridge config validate`` checks those written as literal addresses against
        ``OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS``; at delivery time the connector itself checks
        the addresses it connects to (`ConnectorContext.egress`).
        """
        return []

    def describe_target(self) -> str:
        """Where this connector delivers, for error messages: never credentials or secrets."""
        return "the back-end"

    async def check(self) -> Receipt:
        """Test the route end to end without an application: used by ``routes test``.

        By default a synthetic envelope (`ping_envelope`: no application, no personal data,
        ``"type": "ping"`` in its manifest) goes through `deliver` — the real transport, signing,
        timeout and error translation — so a municipality sees whether its endpoint answers and
        its signature check accepts us. Override this where a ping must not look like a delivery
        (a file drop the back-end imports, a mailbox) with a check that delivers nothing.
        Returns a receipt or raises a `DeliveryError`, like `deliver`.
        """
        return await self.deliver(ping_envelope(self.context))

    @abc.abstractmethod
    async def send(self, envelope: Envelope) -> Receipt:
        """Transport only: hand the envelope over and return a `Receipt`, or raise a
        `DeliveryError` subclass (`RetriableDeliveryError` or `PermanentDeliveryError`).

        Called by `deliver`, which enforces the timeout (cancelling this coroutine), logs, and
        turns any other exception into a retriable error. Translate your library's exceptions
        here, once, with ``raise … from exc``. ``envelope.delivery_id`` is the same on every
        attempt: hand it to the back-end so that it can recognise a repeated delivery.
        """

    async def _deliver(self, envelope: Envelope) -> Receipt:
        """Deprecated name of `send` (one release): calling it still sends."""
        return await self.send(envelope)

    async def aclose(self) -> None:
        """Release connections and files; called once at shutdown. Override if you hold any."""
        await self._close()

    async def _close(self) -> None:
        """Deprecated hook (override `aclose` instead), still called by the default `aclose`."""


async def _send_via_deliver(self: Connector[Any], envelope: Envelope) -> Receipt:
    return await self._deliver(envelope)


def _implements_send(cls: type) -> bool:
    return any("send" in klass.__dict__ for klass in cls.__mro__ if klass is not Connector)


PING_SERVICE = "99000000000000"  # well-formed, and no LeiKa service has this key
PING_REGION = "000000000000"  # well-formed, and no region has this key


def ping_envelope(context: ConnectorContext) -> Envelope:
    """A synthetic envelope for a route test: ids fresh, content ``{"type": "ping"}``."""
    ping_id = new_id()
    return Envelope(
        application_id=ping_id,
        delivery_id=ping_id,
        attempt=1,
        tenant_id=context.tenant_id,
        tenant_name=context.tenant_id,
        route_id=context.route_id,
        service=ServiceRef(leika_key=PING_SERVICE, name="ozgbridge ping"),
        region=RegionRef.of(ars=PING_REGION),
        reference=None,
        submitted_at=utcnow(),
        data=FormData(mime_type="application/json", content=b'{"type":"ping"}'),
        ping=True,
    )
