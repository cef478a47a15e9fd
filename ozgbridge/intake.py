"""Intakes: other ways in than the portal API (e.g. a FIT-Connect subscriber), as plug-ins.

An intake receives applications from somewhere else, stores each one with
`Repository.accept` and routes it exactly like the portal API does. State of its own (what it
answered, what it still follows up) it keeps through `Repository.plugin_state` — records, audit
events and status reports in one transaction — never with SQL of its own.

Intakes are found through the entry-point group ``ozgbridge.intakes``, like connectors, so the
core never imports ``connectors/``. Each intake class reads its own configuration file from the
deployment directory; `check_configs` reports its problems together with the tenants' (``config
validate``), and worker processes run every configured intake as a task next to the delivery
worker.

An intake may also accept authenticated callbacks (``POST /v1/intakes/<kind>/callbacks``): it
declares how they are authenticated (`CallbackSpec`, for the OpenAPI document), checks each one
itself and raises `CallbackRejected` for anything it cannot authenticate. The core knows no
intake by name: routes, documentation and older paths (`CallbackSpec.aliases`) all come from the
installed intake classes.
"""

from __future__ import annotations

import abc
import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import structlog

from ozgbridge.audit import AuditEvent
from ozgbridge.errors import (
    CallbackRejected,
    ConfigError,
    ConfigProblem,
    IntakeRejected,
    RoutingError,
)
from ozgbridge.secrets import SecretResolver
from ozgbridge.store.engine import DATABASE_ERRORS
from ozgbridge.store.plugin_state import (
    DeliveredByPlugin,
    PluginRecord,
    PluginState,
    PluginTransaction,
)

if TYPE_CHECKING:  # the tenants module imports this one to check intake configuration
    from ozgbridge.routing import Router
    from ozgbridge.settings import Settings
    from ozgbridge.store.repository import Repository
    from ozgbridge.tenants import Deployment

__all__ = [
    "ENTRY_POINT_GROUP",
    "AuditEvent",
    "CallbackRejected",
    "CallbackSpec",
    "DeliveredByPlugin",
    "Intake",
    "IntakeContext",
    "IntakeRejected",
    "PluginRecord",
    "PluginState",
    "PluginTransaction",
    "check_configs",
    "configured_intakes",
    "intake_classes",
    "start",
    "stop",
]

ENTRY_POINT_GROUP = "ozgbridge.intakes"
logger = structlog.get_logger("ozgbridge.intake")


@dataclass(frozen=True)
class CallbackSpec:
    """How an intake's callbacks are authenticated: shown in the OpenAPI document.

    ``auth_header`` carries the credential (an HMAC, a token); ``headers`` are every header a
    callback must carry, with a description each. ``aliases`` are further paths that reach this
    intake's callbacks, such as one configured at a sender before ``/v1/intakes/<kind>/callbacks``
    existed; each must be ``/v1/<name>/callbacks``.
    """

    summary: str
    auth_header: str
    headers: Mapping[str, str]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class IntakeContext:
    """What a running intake may use: the same parts the portal API uses."""

    settings: Settings
    deployment: Deployment
    repository: Repository
    router: Router
    on_accepted: Callable[[], None] | None = None


class Intake(abc.ABC):
    """One configured intake. Subclasses implement `load`, `check` and `run`."""

    kind: ClassVar[str]
    # None: this intake takes no callbacks (its path answers 404).
    callbacks: ClassVar[CallbackSpec | None] = None

    @classmethod
    @abc.abstractmethod
    def check(cls, config_dir: Path, resolver: SecretResolver) -> list[ConfigProblem]:
        """Every problem in this intake's configuration (none when it is not configured)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, deployment: Deployment, resolver: SecretResolver) -> Intake | None:
        """The intake for this deployment, or None when there is nothing for it to do."""

    @abc.abstractmethod
    async def run(self, context: IntakeContext) -> None:
        """Receive until cancelled; failures of one round are logged, never fatal."""

    def wake(self) -> None:  # noqa: B027 - optional hook; polling alone is correct too
        """Look for new work now (a callback said there is some)."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook; without it, `stop` cancels
        """Finish the current round, then let `run` return."""

    async def handle_callback(self, headers: Mapping[str, str], body: bytes) -> None:
        """Authenticate and act on a callback; `CallbackRejected` when it is not authentic."""
        raise CallbackRejected(f"intake {self.kind!r} takes no callbacks")

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients; called once at shutdown."""


async def count_unmet_demand(repository: Repository, error: RoutingError) -> None:
    """Count a submission nobody is responsible for (service × region × month, no content).

    Every intake calls this where routing refuses; the refusal itself must go out regardless,
    so a failed count is logged, never raised.
    """
    try:
        await repository.record_unmet_demand(error.leika_key, error.region)
    except DATABASE_ERRORS:
        logger.exception("demand.count_failed", leika_key=error.leika_key, ars=error.region)


@cache
def intake_classes() -> dict[str, type[Intake]]:
    found: dict[str, type[Intake]] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        cls = entry_point.load()
        if not (isinstance(cls, type) and issubclass(cls, Intake)):
            raise ConfigError(
                f"entry point {entry_point.name!r} in {ENTRY_POINT_GROUP} is not an Intake class"
            )
        found[entry_point.name] = cls
    return found


def check_configs(config_dir: Path, resolver: SecretResolver) -> list[ConfigProblem]:
    """The problems of every installed intake's configuration in ``config_dir``."""
    problems: list[ConfigProblem] = []
    for cls in intake_classes().values():
        problems += cls.check(config_dir, resolver)
    return problems


def configured_intakes(deployment: Deployment) -> list[Intake]:
    """Every installed intake that has something to do in this deployment."""
    resolver = SecretResolver(base_dir=deployment.config_dir, environ=os.environ)
    loaded = [cls.load(deployment, resolver) for cls in intake_classes().values()]
    return [intake for intake in loaded if intake is not None]


def start(intakes: Sequence[Intake], context: IntakeContext) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(i.run(context), name=f"intake-{i.kind}") for i in intakes]
    for intake in intakes:
        logger.info("intake.started", kind=intake.kind)
    return tasks


async def stop(
    intakes: Sequence[Intake], tasks: Sequence[asyncio.Task[None]], *, grace: float
) -> None:
    """Ask the intakes to finish their round (up to ``grace`` seconds), then cancel what is
    left, and close the intakes.

    Finishing beats cancelling: a task cancelled inside a database call can leave that
    connection stuck in its rollback, and a submission half-answered.
    """
    for intake in intakes:
        intake.shutdown()
    if tasks:
        await asyncio.wait(tasks, timeout=grace)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for intake, result in zip(intakes, results, strict=False):
        if isinstance(result, Exception):
            logger.error("intake.failed", kind=intake.kind, error=type(result).__name__)
    for intake in intakes:
        await intake.aclose()
