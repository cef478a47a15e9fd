"""The ``fitconnect`` intake: a poller in the worker process (entry point ``ozgbridge.intakes``).

Each round it (1) receives new submissions for every destination in ``fitconnect.yaml`` (see
`receive`), and (2) reads the event logs of submissions sent by ``fitconnect`` routes (see
`tracking`). Rounds run every ``poll_interval`` seconds, and at once when a callback arrives.

Callbacks (``POST /v1/intakes/fitconnect/callbacks``; ``/v1/fitconnect/callbacks``, the path of
earlier versions, stays an alias) are authenticated as FIT-Connect specifies:
``callback-authentication`` is the hex HMAC-SHA512 of ``"{callback-timestamp}.{raw body}"`` with
the callback secret; the timestamp may be at most five minutes old. Any configured secret (the
file's, a destination's, a sender route's) is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from connectors.fitconnect import crypto
from connectors.fitconnect.checks import Subscription
from connectors.fitconnect.client import FitConnectClient, json_of
from connectors.fitconnect.events import EventVerifier
from connectors.fitconnect.intake_config import (
    DestinationConfig,
    FitConnectConfig,
    load_data_schema,
    read,
)
from connectors.fitconnect.options import FitConnectOptions
from connectors.fitconnect.receive import receive
from connectors.fitconnect.tracking import RouteKey, Sender, check_open, discover
from ozgbridge.errors import ConfigError, ConfigProblem, DeliveryError, RetriableDeliveryError
from ozgbridge.intake import CallbackRejected, CallbackSpec, Intake, IntakeContext
from ozgbridge.secrets import SecretResolver
from ozgbridge.tenants import Deployment

logger = structlog.get_logger("ozgbridge.connectors.fitconnect.intake")

CALLBACK_MAX_AGE_SECONDS = 300
_DEFAULT_POLL_INTERVAL = 60.0
_CLIENT_TIMEOUT = 30.0
_PAGE_LIMIT = 500


def callback_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha512).hexdigest()


def verify_callback(
    secrets: list[bytes], headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> None:
    """`CallbackRejected` unless a secret authenticates this fresh callback."""
    given = headers.get("callback-authentication", "")
    timestamp = headers.get("callback-timestamp", "")
    if not given or not timestamp.isdigit():
        raise CallbackRejected("callback-authentication or callback-timestamp missing")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > CALLBACK_MAX_AGE_SECONDS:
        raise CallbackRejected("callback-timestamp is more than five minutes off")
    given_bytes = given.strip().lower().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = callback_signature(secret, timestamp, body).encode("ascii")
        # Every secret is compared, each in constant time: timing tells nothing about which.
        matched |= hmac.compare_digest(expected, given_bytes)
    if not matched:
        raise CallbackRejected("callback-authentication does not verify")


class FitConnectIntake(Intake):
    kind = "fitconnect"
    callbacks = CallbackSpec(
        summary="FIT-Connect callback: news for a destination or a case; wakes the poller",
        auth_header="callback-authentication",
        headers={
            "callback-authentication": (
                'hex HMAC-SHA512 of "{callback-timestamp}.{raw body}" with the callback secret'
            ),
            "callback-timestamp": "Unix seconds; at most five minutes old",
        },
        aliases=("/v1/fitconnect/callbacks",),
    )

    def __init__(
        self,
        config: FitConnectConfig | None,
        senders: dict[RouteKey, FitConnectOptions],
        config_dir: Path,
    ) -> None:
        self.config = config
        intervals = [o.status_poll_interval for o in senders.values()]
        intervals += [config.poll_interval] if config else []
        self.poll_interval = min(intervals, default=_DEFAULT_POLL_INTERVAL)
        self._wake = asyncio.Event()
        self._stopping = False
        self._subscriptions = [self._subscription(d, config_dir) for d in self._destinations()]
        self._senders = {key: _sender(options) for key, options in senders.items()}
        self._callback_secrets = self._collect_secrets(senders)

    def _destinations(self) -> list[DestinationConfig]:
        return list(self.config.destinations) if self.config else []

    def _subscription(self, destination: DestinationConfig, config_dir: Path) -> Subscription:
        assert self.config is not None
        client = FitConnectClient(
            api_url=str(self.config.submission_api_url),
            token_url=str(self.config.token_url),
            client_id=destination.client_id,
            client_secret=destination.client_secret.get_secret_value(),
            timeout=_CLIENT_TIMEOUT,
        )
        return Subscription(
            destination_id=str(destination.id),
            client=client,
            verifier=EventVerifier(client),
            decryption_key=crypto.private_key(
                destination.decryption_key.get_secret_value(), kid=destination.decryption_key_kid
            ),
            signing_key=crypto.private_key(
                destination.signing_key.get_secret_value(), kid=destination.signing_key_kid
            ),
            default_region=(
                destination.default_region.to_ref() if destination.default_region else None
            ),
            data_schemas={
                uri: Draft202012Validator(load_data_schema(config_dir, path))
                for uri, path in destination.data_schemas.items()
            },
        )

    def _collect_secrets(self, senders: dict[RouteKey, FitConnectOptions]) -> list[bytes]:
        found = []
        if self.config is not None and self.config.callback_secret is not None:
            found.append(self.config.callback_secret)
        found += [d.callback_secret for d in self._destinations() if d.callback_secret]
        found += [o.callback_secret for o in senders.values() if o.callback_secret]
        return [secret.get_secret_value().encode("utf-8") for secret in found]

    @classmethod
    def check(cls, config_dir: Path, resolver: SecretResolver) -> list[ConfigProblem]:
        return read(config_dir, resolver)[1]

    @classmethod
    def load(cls, deployment: Deployment, resolver: SecretResolver) -> Intake | None:
        config, problems = read(deployment.config_dir, resolver)
        if problems:
            raise ConfigError(problems)
        senders: dict[RouteKey, FitConnectOptions] = {}
        for tenant in deployment.tenants.values():
            for route in tenant.routes:
                if route.connector != cls.kind:
                    continue
                try:
                    senders[(tenant.id, route.id)] = FitConnectOptions.model_validate(route.options)
                except ValidationError as exc:  # load_deployment reported it already
                    raise ConfigError(f"{tenant.id}/{route.id}: invalid options") from exc
        if config is None and not senders:
            return None
        return cls(config, senders, deployment.config_dir)

    def wake(self) -> None:
        self._wake.set()

    def shutdown(self) -> None:
        self._stopping = True
        self._wake.set()

    async def handle_callback(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_callback(self._callback_secrets, headers, body)
        logger.info("fitconnect.callback_accepted", size=len(body))
        self.wake()

    async def run(self, context: IntakeContext) -> None:
        logger.info(
            "fitconnect.intake_running",
            destinations=len(self._subscriptions),
            sender_routes=len(self._senders),
        )
        while not self._stopping:
            self._wake.clear()
            try:
                await self.round(context)
            except Exception:
                # A bug or a database hiccup must not end receiving for good: next round.
                logger.exception("fitconnect.round_failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)

    async def round(self, context: IntakeContext) -> None:
        """One look at every destination and every open sent case; failures are logged."""
        for sub in self._subscriptions:
            try:
                await self._receive_all(sub, context)
            except DeliveryError as exc:
                logger.warning(
                    "fitconnect.intake_unavailable",
                    destination_id=sub.destination_id,
                    error=exc.detail,
                )
        if self._senders:
            await discover(context.repository)
            await check_open(context.repository, self._senders)

    async def _receive_all(self, sub: Subscription, context: IntakeContext) -> None:
        for item in await _listing(sub):
            if self._stopping:  # the rest stays listed for the next process
                break
            try:
                # Ids go into URL paths and the database: only well-formed UUIDs pass.
                submission_id = str(uuid.UUID(str(item["submissionId"])))
                case_id = str(uuid.UUID(str(item["caseId"])))
            except (KeyError, TypeError, ValueError):
                logger.warning("fitconnect.intake_bad_listing", destination_id=sub.destination_id)
                continue
            try:
                await receive(sub, context, submission_id, case_id)
            except DeliveryError as exc:
                # This one stays listed at the Zustelldienst and is tried again next round.
                logger.warning(
                    "fitconnect.intake_failed",
                    destination_id=sub.destination_id,
                    submission_id=submission_id,
                    error=exc.detail,
                )
            except Exception:
                # A bug or a database failure with this one must not hold up the others.
                logger.exception(
                    "fitconnect.intake_error",
                    destination_id=sub.destination_id,
                    submission_id=submission_id,
                )

    async def aclose(self) -> None:
        for sub in self._subscriptions:
            await sub.client.aclose()
        for sender in self._senders.values():
            await sender.client.aclose()


async def _listing(sub: Subscription) -> list[Any]:
    """Every submission listed for the destination, page by page (``{offset, count, totalCount,
    submissions}``, limit at most 500)."""
    items: list[Any] = []
    offset = 0
    while True:
        response = await sub.client.request(
            "GET",
            "/v2/submissions",
            what="submissions",
            params={"destinationId": sub.destination_id, "offset": offset, "limit": _PAGE_LIMIT},
        )
        listing = json_of(response, "submissions")
        page = listing.get("submissions") if isinstance(listing, dict) else None
        total = listing.get("totalCount") if isinstance(listing, dict) else None
        if not isinstance(page, list):
            raise RetriableDeliveryError("unreadable submission list from FIT-Connect")
        items += page
        offset += len(page)
        if not page or not isinstance(total, int) or offset >= total:
            return items


def _sender(options: FitConnectOptions) -> Sender:
    client = FitConnectClient(
        api_url=options.submission_api(),
        token_url=str(options.token_url),
        client_id=options.client_id,
        client_secret=options.client_secret.get_secret_value(),
        timeout=_CLIENT_TIMEOUT,
    )
    return Sender(client=client, verifier=EventVerifier(client))
