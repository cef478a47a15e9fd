"""A configuration as a process runs it: deployment, router, connectors and intakes, checked.

`load` reads the configuration directory with the process's limits; `build` turns it into a
`Runtime` — everything ``serve`` needs that can still go wrong after loading (a connector that
cannot be built from its options, e.g. an unreadable CA file; a router that cannot be built; an
intake that cannot start) is found there and reported as located `ConfigProblem`s. ``config
validate``, start-up and reload all go through these two functions, so whatever would stop a
process is reported by ``validate`` first, worded the same way.

A `Runtime` counts the deliveries that use it. Once it is replaced (reload), `retire` waits for
those to finish and only then closes its connectors: an attempt always ends with the connector
it started with.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError

from ozgbridge import intake
from ozgbridge.audit_keys import AuditKeys
from ozgbridge.configfile import Loc
from ozgbridge.connector import Connector, ConnectorContext, connector_class
from ozgbridge.dataprotection.keys import DataKeys
from ozgbridge.egress import EgressPolicy
from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.ops.admission import RoutePolicy, policies_of
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.tenants import DeliveryLimits, Deployment, load_deployment

logger = structlog.get_logger("ozgbridge.runtime")

RouteKey = tuple[str, str]


def limits(settings: Settings) -> DeliveryLimits:
    return DeliveryLimits(
        delivery_timeout=settings.delivery_timeout, lease_seconds=settings.lease_seconds
    )


def load(settings: Settings) -> Deployment:
    """The configuration directory of ``settings``, checked against its delivery limits."""
    return load_deployment(settings.config_dir, limits=limits(settings))


@dataclass(eq=False)
class Runtime:
    """One loaded configuration with what runs it. ``connectors`` only in worker processes;
    ``intakes`` everywhere (they authenticate their callbacks), running in workers only."""

    deployment: Deployment
    router: Router
    connectors: Mapping[RouteKey, Connector[Any]] = field(default_factory=dict)
    intakes: list[intake.Intake] = field(default_factory=list)
    # The data and audit key files as a reload read them with this configuration (None: not
    # read again).
    data_keys: DataKeys | None = None
    audit_keys: AuditKeys | None = None
    _users: int = field(default=0, init=False)
    _idle: asyncio.Event | None = field(default=None, init=False)
    _retired: bool = field(default=False, init=False)
    _closed: bool = field(default=False, init=False)

    @functools.cached_property
    def route_policies(self) -> Mapping[RouteKey, RoutePolicy]:
        """Breaker settings and limits of every route, as claims and outcomes need them."""
        return policies_of(self.deployment)

    @functools.cached_property
    def tenant_names(self) -> Mapping[str, str]:
        """Tenant id → name, as envelopes carry it."""
        return {t.id: t.name for t in self.deployment.tenants.values()}

    def acquire(self) -> None:
        """One more delivery uses this configuration (call `release` when it is done)."""
        if self._closed:
            raise RuntimeError("this configuration's connectors are closed")
        self._users += 1

    def release(self) -> None:
        self._users -= 1
        if self._users == 0 and self._idle is not None:
            self._idle.set()

    @property
    def users(self) -> int:
        return self._users

    async def retire(self) -> None:
        """Wait until no delivery uses this configuration any more, then close its connectors."""
        self._retired = True
        if self._users:
            self._idle = asyncio.Event()
            await self._idle.wait()
        await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for key, connector in self.connectors.items():
            try:
                await connector.aclose()
            except Exception:
                logger.exception("connector.close_failed", tenant_id=key[0], route_id=key[1])


async def build(deployment: Deployment, settings: Settings, *, worker: bool) -> Runtime:
    """Router, connectors (``worker``) and intakes of a loaded deployment; `ConfigError` lists
    every route, intake or router problem, each located in its file."""
    problems: list[ConfigProblem] = []
    router: Router | None = None
    try:
        router = Router(deployment)
    except ConfigError as exc:
        problems += exc.problems
    connectors = _connectors(deployment, settings, problems) if worker else {}
    intakes: list[intake.Intake] = []
    try:  # API processes need them too: they authenticate the intakes' callbacks
        intakes = intake.configured_intakes(deployment)
    except ConfigError as exc:
        problems += exc.problems
    if problems or router is None:
        for built in connectors.values():  # built, but never used
            await built.aclose()
        for configured in intakes:
            await configured.aclose()
        raise ConfigError(problems, deployment.warnings)
    return Runtime(deployment, router, connectors, intakes)


def _connectors(
    deployment: Deployment, settings: Settings, problems: list[ConfigProblem]
) -> dict[RouteKey, Connector[Any]]:
    connectors: dict[RouteKey, Connector[Any]] = {}
    data_dir = settings.data_dir.resolve()
    for tenant in deployment.tenants.values():
        for index, route in enumerate(tenant.routes):
            here: Loc = ("routes", index)
            timeout = route.timeout or settings.delivery_timeout
            context = ConnectorContext(
                tenant_id=tenant.id,
                route_id=route.id,
                data_dir=data_dir,
                concurrency=settings.worker_concurrency,
                egress=EgressPolicy.of(settings.connector_allowed_networks),
            )
            try:
                connectors[(tenant.id, route.id)] = connector_class(route.connector).from_config(
                    route.options, context=context, timeout=timeout
                )
            except ConfigError as exc:
                problems += [
                    deployment.problem(tenant.source, (*here, "options"), problem.message)
                    for problem in exc.problems
                ]
            except ValidationError as exc:  # validated while loading, unless skipped there
                for error in exc.errors(include_url=False):
                    loc = (*here, "options", *error["loc"])
                    problems.append(deployment.problem(tenant.source, loc, error["msg"]))
    return connectors


async def check(deployment: Deployment, settings: Settings) -> None:
    """What starting a worker with ``deployment`` would do, without starting it: build and
    close everything; `ConfigError` if something could not be built."""
    runtime = await build(deployment, settings, worker=True)
    await runtime.close()
    for configured in runtime.intakes:
        await configured.aclose()
