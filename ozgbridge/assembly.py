"""What one ozgbridge process is made of, assembled: `open_service` builds the `Service`.

Start-up order matters: configuration and data keys first (neither bad config nor missing keys
ever touch the database), then the schema check, then connectors (`ozgbridge.runtime.build`: the
same check ``config validate`` runs). `ozgbridge.service.run_service` then runs what was built
and takes it down again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, audit_keys, intake, malloc, runtime
from ozgbridge.api import spool
from ozgbridge.api.app import create_app
from ozgbridge.dataprotection.purge import PurgeTask
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.dataprotection.startup import load_sealer, reread_keys, swap_keys
from ozgbridge.delivery_news import DeliveryNews
from ozgbridge.events.dispatcher import EventDispatcher
from ozgbridge.events.sender import PortalSender
from ozgbridge.live import LiveConfig, Swapped
from ozgbridge.runtime import Runtime
from ozgbridge.settings import Settings
from ozgbridge.status_desk import StatusDesk
from ozgbridge.store import migrate
from ozgbridge.store.engine import create_engine
from ozgbridge.store.outbox import EventOutbox
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import Deployment
from ozgbridge.worker import Worker, default_worker_id

logger = structlog.get_logger("ozgbridge.service")


@dataclass
class Service:
    settings: Settings
    live: LiveConfig
    engine: AsyncEngine
    repository: Repository
    worker: Worker | None
    app: web.Application | None
    worker_id: str
    # Sends portal events; runs wherever the worker runs.
    dispatcher: EventDispatcher | None = None
    sender: PortalSender | None = None
    _intake_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)
    purge: PurgeTask | None = None
    _purge_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New deliveries or portal events may be due (a hint for this process's loops)."""
        if self.worker is not None:
            self.worker.wake()
        if self.dispatcher is not None:
            self.dispatcher.wake()

    @property
    def deployment(self) -> Deployment:
        """The configuration running now (it changes on reload)."""
        return self.live.deployment

    @property
    def intakes(self) -> list[intake.Intake]:
        return self.live.runtime.intakes

    def start_intakes(self, current: Runtime) -> None:
        if self.worker is None:
            return
        context = intake.IntakeContext(
            self.settings,
            current.deployment,
            self.repository,
            current.router,
            self.worker.wake,
        )
        self._intake_tasks = intake.start(current.intakes, context)

    async def stop_intakes(self, previous: Runtime) -> None:
        if self.worker is None:  # never started here; only their clients to release
            for configured in previous.intakes:
                await configured.aclose()
            return
        tasks, self._intake_tasks = self._intake_tasks, []
        await intake.stop(previous.intakes, tasks, grace=self.settings.shutdown_grace)

    def start_intakes_and_purge(self) -> None:
        """The worker side's own tasks: the configured intakes, and the retention purge."""
        self.start_intakes(self.live.runtime)
        if self.purge is not None:
            self._purge_task = asyncio.create_task(self.purge.run(), name="purge")

    async def stop_purge(self) -> None:
        """Let the purge finish its batch (a cancelled transaction can leave its connection
        stuck), then end it."""
        if self.purge is None or self._purge_task is None:
            return
        self.purge.stop()
        await asyncio.wait([self._purge_task], timeout=self.settings.shutdown_grace)
        await cancel(self._purge_task)

    def reload_in_background(self, actor: str) -> None:
        task = asyncio.create_task(self.live.reload(actor=actor), name="config-reload")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def finish_reloads(self) -> None:
        """Let a reload still running end (its failure is logged by the reload itself)."""
        for pending in list(self._background):
            with contextlib.suppress(Exception):
                await pending


def _log_warnings(deployment: Deployment) -> None:
    for warning in deployment.warnings:
        logger.warning(
            "config.warning",
            file=warning.file,
            line=warning.line,
            field=warning.field,
            problem=warning.message,
        )


def _loader(
    settings: Settings, sealer: Sealer, *, worker: bool
) -> Callable[[], Awaitable[Runtime]]:
    """What a reload reads: the configuration directory, the data and the audit key file."""

    async def load() -> Runtime:
        loaded = await asyncio.to_thread(runtime.load, settings)  # reads files: off the loop
        data_keys = await asyncio.to_thread(reread_keys, settings, sealer)
        chaining = await asyncio.to_thread(
            audit_keys.reread, settings.database_url, settings.audit_key, audit.chaining_keys()
        )
        built = await runtime.build(loaded, settings, worker=worker)
        built.data_keys = data_keys
        built.audit_keys = chaining
        return built

    return load


def _after_swap(
    service: Service, sealer: Sealer, record: Callable[[str, str, dict[str, Any]], Awaitable[None]]
) -> Swapped:
    """What a process does once a reload swapped its configuration in; it says which key files
    it swapped in too."""

    async def swapped(old: Runtime, new: Runtime) -> list[str]:
        changed = []
        rotated = swap_keys(sealer, new.data_keys) if new.data_keys is not None else None
        if rotated is not None:
            changed.append("data_keys")
            await record(f"process:{service.worker_id}", "data_keys.reloaded", rotated)
        chaining = audit.swap_keys(new.audit_keys) if new.audit_keys is not None else None
        if chaining is not None:  # the first event chained with the new key says so
            changed.append("audit_key")
            await record(f"process:{service.worker_id}", "audit_key.reloaded", chaining)
        _log_warnings(new.deployment)
        await service.stop_intakes(old)
        service.start_intakes(new)
        return changed

    return swapped


async def open_service(
    settings: Settings,
    *,
    api: bool,
    worker: bool,
    upgrade: bool = False,
    create_embedded_keys: bool = False,
) -> Service:
    """``create_embedded_keys``: on the embedded default, make ``var/data-keys.yaml`` if missing
    (``ozgbridge serve``); see `ozgbridge.dataprotection.startup`."""
    malloc.fix_mmap_threshold()
    deployment = runtime.load(settings)
    audit.use_keys(
        audit_keys.for_service(
            settings.database_url, settings.audit_key, unkeyed=settings.audit_unkeyed
        )
    )
    sealer = load_sealer(settings, create_embedded=create_embedded_keys)
    engine = create_engine(settings.database_url)
    try:
        await migrate.prepare(engine, settings.database_url, upgrade_first=upgrade)
        if api:
            spool.check_directory(settings.spool_dir)
        initial = await runtime.build(deployment, settings, worker=worker)
    except BaseException:
        await engine.dispose()
        raise
    repository = Repository(engine, notify=settings.pg_notify, sealer=sealer)
    worker_id = default_worker_id()
    roles = ",".join(r for r, on in (("api", api), ("worker", worker)) if on)

    async def record(actor: str, action: str, details: dict[str, Any]) -> None:
        event = audit.AuditEvent(actor, action, details={**details, "process": worker_id})
        await audit.record(engine, event)

    live = LiveConfig(initial, loader=_loader(settings, sealer, worker=worker), auditor=record)
    service = Service(settings, live, engine, repository, None, None, worker_id)
    if worker:
        sender = PortalSender(lambda: live.deployment.keys, settings, sealer=sealer)
        try:
            sender.check()
        except BaseException:
            await sender.aclose()
            await live.aclose()
            await engine.dispose()
            raise
        dispatcher = EventDispatcher(
            settings=settings, outbox=EventOutbox(engine), sender=sender, worker_id=worker_id
        )
        desk = StatusDesk(engine, sealer=sealer, notify=repository.notify, on_news=service.wake)
        news = DeliveryNews(desk, lambda: live.router, on_news=dispatcher.wake)
        service.sender, service.dispatcher = sender, dispatcher
        service.worker = Worker(
            settings=settings,
            live=live,
            repository=repository,
            # Breaker settings and limits of the configuration in force (reloads included).
            queue=DeliveryQueue(
                engine,
                policies=lambda: live.runtime.route_policies,
                after_outcomes=news,
                sealer=sealer,
            ),
            worker_id=worker_id,
        )
        # Retention follows the configuration running now, reloads included.
        service.purge = PurgeTask(
            engine, lambda: live.deployment, settings, actor="system:retention"
        )
    if api:
        service.app = create_app(
            settings=settings,
            repository=repository,
            live=live,
            on_accepted=service.wake if worker else None,
        )
    await audit.record(
        engine,
        audit.AuditEvent(
            actor=f"process:{worker_id}",
            action="config.loaded",
            details={
                "fingerprint": deployment.fingerprint,
                "tenants": len(deployment.tenants),
                "routes": sum(len(t.routes) for t in deployment.tenants.values()),
                "keys": len(deployment.keys),
                "roles": roles,
            },
        ),
    )
    _log_warnings(deployment)

    live.on_swap(_after_swap(service, sealer, record))
    return service


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
