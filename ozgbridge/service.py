"""One ozgbridge process: the API, the worker, or both (the embedded default), wired together.

Start-up order matters: configuration and data keys first (neither bad config nor missing keys
ever touch the database), then the schema check, then connectors (`ozgbridge.runtime.build`: the
same check ``config validate`` runs). Worker processes also run the retention purge as a task of
its own. Shutdown is the reverse: stop taking HTTP requests, let the worker and the purge finish
or hand back what they hold, close connectors, release the database.

SIGHUP (like ``POST /v1/admin/reload``) reloads the configuration directory in this process
(`ozgbridge.live`); worker processes restart their intakes with the new configuration. With
``OZGBRIDGE_CONFIG_WATCH_SECONDS`` the process also reloads when the files change (Kubernetes
ConfigMap volumes).

A group of API processes (``ozgbridge api --processes N``, `ozgbridge.processes`) does the
start-up work that must happen once in its supervisor (`ozgbridge.processes.prepare_group`); each
process then runs `run_service` as a single ``ozgbridge api`` would, on a port shared with
``SO_REUSEPORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, audit_keys, gctuning, intake, malloc, runtime
from ozgbridge.api import connections, spool
from ozgbridge.api.app import create_app
from ozgbridge.api.state import RELOAD_OTHERS
from ozgbridge.audit_verify import start_checkpoint_log
from ozgbridge.dataprotection.purge import PurgeTask
from ozgbridge.dataprotection.startup import load_sealer
from ozgbridge.delivery_news import DeliveryNews
from ozgbridge.events.dispatcher import EventDispatcher
from ozgbridge.events.sender import PortalSender
from ozgbridge.live import LiveConfig, watch
from ozgbridge.metrics_http import worker_metrics_app
from ozgbridge.process_link import SupervisorLink
from ozgbridge.runtime import Runtime
from ozgbridge.settings import Settings
from ozgbridge.status_desk import StatusDesk
from ozgbridge.store import migrate
from ozgbridge.store.engine import create_engine
from ozgbridge.store.notify import listen
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
        await _cancel(self._purge_task)

    def reload_in_background(self, actor: str) -> None:
        task = asyncio.create_task(self.live.reload(actor=actor), name="config-reload")
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _log_warnings(deployment: Deployment) -> None:
    for warning in deployment.warnings:
        logger.warning(
            "config.warning",
            file=warning.file,
            line=warning.line,
            field=warning.field,
            problem=warning.message,
        )


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
        if upgrade:
            await migrate.upgrade(settings.database_url)
        await migrate.ensure_current(engine)
        if api:
            spool.check_directory(settings.spool_dir)
        initial = await runtime.build(deployment, settings, worker=worker)
    except BaseException:
        await engine.dispose()
        raise
    repository = Repository(engine, notify=settings.pg_notify, sealer=sealer)
    worker_id = default_worker_id()
    roles = ",".join(r for r, on in (("api", api), ("worker", worker)) if on)

    async def load() -> Runtime:
        loaded = await asyncio.to_thread(runtime.load, settings)  # reads files: off the loop
        return await runtime.build(loaded, settings, worker=worker)

    async def record(actor: str, action: str, details: dict[str, Any]) -> None:
        event = audit.AuditEvent(actor, action, details={**details, "process": worker_id})
        await audit.record(engine, event)

    live = LiveConfig(initial, loader=load, auditor=record)
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

    async def swapped(old: Runtime, new: Runtime) -> None:
        _log_warnings(new.deployment)
        await service.stop_intakes(old)
        service.start_intakes(new)

    live.on_swap(swapped)
    return service


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _cleanup(*runners: web.AppRunner | None) -> None:
    for runner in runners:
        if runner is not None:
            await runner.cleanup()


async def _start_metrics_listener(settings: Settings) -> web.AppRunner | None:
    """The worker's /metrics listener at OZGBRIDGE_METRICS_PORT, if set."""
    if settings.metrics_port is None:
        return None
    runner = web.AppRunner(worker_metrics_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    logger.info(
        "service.metrics_listening",
        url=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics",
    )
    return runner


async def _stop_loops(
    service: Service,
    worker_task: asyncio.Task[None] | None,
    dispatcher_task: asyncio.Task[None] | None,
) -> None:
    """Stop claiming; let deliveries, events and the purge's batch in flight finish (or hand
    them back)."""
    await service.stop_purge()
    for loop in (service.worker, service.dispatcher):
        if loop is not None:
            loop.stop()
    for task in (worker_task, dispatcher_task):
        if task is not None:
            await task
    if service.sender is not None:
        await service.sender.aclose()


async def _serve_api(
    service: Service, settings: Settings, supervisor: SupervisorLink | None
) -> web.AppRunner | None:
    """The API on its port, under the connection limits (api/connections.py); with a
    ``supervisor``, shared with the other processes of a group (SO_REUSEPORT: the kernel spreads
    the connections), and a reload on request is passed on to them."""
    if service.app is None:
        return None
    shared_port = supervisor is not None
    if supervisor is not None:
        service.app[RELOAD_OTHERS] = supervisor.reload_others
    runner = connections.runner(service.app, settings)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=shared_port or None)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    logger.info("service.listening", url=f"http://{settings.host}:{settings.port}")
    return runner


def _listen_for_signals(
    loop: asyncio.AbstractEventLoop,
    stop: asyncio.Event,
    service: Service,
    supervisor: SupervisorLink | None,
) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, service.reload_in_background, "signal:SIGHUP")
    if supervisor is not None:  # a supervisor gone (even killed) stops its group's processes
        supervisor.watch(loop, stop.set)


def _stop_listening(loop: asyncio.AbstractEventLoop, supervisor: SupervisorLink | None) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    if supervisor is not None:
        supervisor.close(loop)


async def run_service(
    settings: Settings,
    *,
    api: bool,
    worker: bool,
    upgrade: bool = False,
    create_embedded_keys: bool = False,
    started: Callable[[Service], Awaitable[None]] | None = None,
    supervisor: SupervisorLink | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, then shut down cleanly; SIGHUP reloads the configuration.

    ``supervisor``: this is one process of a group; it shares the port, tells the supervisor
    when it listens, and stops like on SIGTERM when the supervisor is gone."""
    service = await open_service(
        settings,
        api=api,
        worker=worker,
        upgrade=upgrade,
        create_embedded_keys=create_embedded_keys,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    _listen_for_signals(loop, stop, service, supervisor)
    runner: web.AppRunner | None = None
    metrics_runner: web.AppRunner | None = None
    worker_task: asyncio.Task[None] | None = None
    dispatcher_task: asyncio.Task[None] | None = None
    listener: asyncio.Task[None] | None = None
    watcher: asyncio.Task[None] | None = None
    checkpoints = start_checkpoint_log(service.engine, settings.audit_checkpoint_interval)
    gctuning.tune_for_service()  # everything built so far lives as long as the process
    try:
        runner = await _serve_api(service, settings, supervisor)
        if service.worker is not None:
            metrics_runner = await _start_metrics_listener(settings)
            worker_task = asyncio.create_task(service.worker.run(), name="worker")
            if service.dispatcher is not None:
                dispatcher_task = asyncio.create_task(
                    service.dispatcher.run(), name="portal-events"
                )
            if settings.pg_notify and service.engine.dialect.name == "postgresql":
                listener = asyncio.create_task(
                    listen(settings.database_url, service.wake), name="pg-listen"
                )
            service.start_intakes_and_purge()
        if settings.config_watch_seconds > 0:
            watcher = asyncio.create_task(
                watch(service.live, settings.config_dir, settings.config_watch_seconds),
                name="config-watch",
            )
        logger.info(
            "service.started", api=api, worker=worker, tenants=len(service.deployment.tenants)
        )
        if started is not None:
            await started(service)
        if supervisor is not None:
            supervisor.ready()
        stop_waiter = asyncio.create_task(stop.wait())
        waited = [stop_waiter] + [t for t in (worker_task, dispatcher_task) if t is not None]
        await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        stop_waiter.cancel()
        logger.info("service.stopping")
    finally:
        await _cancel(checkpoints)
        loop.remove_signal_handler(signal.SIGHUP)
        await _cancel(watcher)
        for pending in list(service._background):  # a reload still running: let it end
            with contextlib.suppress(Exception):
                await pending
        await _cancel(listener)
        await service.stop_intakes(service.live.runtime)
        await _cleanup(runner, metrics_runner)  # no more requests, no more scrapes
        await _stop_loops(service, worker_task, dispatcher_task)
        await service.live.aclose()
        await service.engine.dispose()
        _stop_listening(loop, supervisor)
    logger.info("service.stopped")
