"""One ozgbridge process: the API, the worker, or both (the embedded default), wired together.

Start-up order matters: configuration first (bad config never touches the database), then the
schema check, then connectors (their options were validated with the config). Shutdown is the
reverse: stop taking HTTP requests, let the worker finish or hand back in-flight deliveries,
close connectors, release the database.
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

from ozgbridge import audit, audit_keys, intake, malloc
from ozgbridge.api import connections, spool
from ozgbridge.api.app import create_app
from ozgbridge.audit_verify import start_checkpoint_log, stop_checkpoint_log
from ozgbridge.connector import Connector, ConnectorContext, connector_class
from ozgbridge.egress import EgressPolicy
from ozgbridge.errors import ConfigError
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import create_engine
from ozgbridge.store.notify import listen
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import Deployment, load_deployment
from ozgbridge.worker import RouteKey, Worker, default_worker_id

logger = structlog.get_logger("ozgbridge.service")


def build_connectors(deployment: Deployment, settings: Settings) -> dict[RouteKey, Connector[Any]]:
    """One connector instance per route, options already validated by `load_deployment`."""
    connectors: dict[RouteKey, Connector[Any]] = {}
    data_dir = settings.data_dir.resolve()
    for tenant in deployment.tenants.values():
        for route in tenant.routes:
            timeout = route.timeout or settings.delivery_timeout
            if timeout >= settings.lease_seconds:
                raise ConfigError(
                    f"{tenant.id}/{route.id}: timeout {timeout:g} s must be shorter than "
                    f"OZGBRIDGE_LEASE_SECONDS ({settings.lease_seconds:g} s)"
                )
            context = ConnectorContext(
                tenant_id=tenant.id,
                route_id=route.id,
                data_dir=data_dir,
                concurrency=settings.worker_concurrency,
                egress=EgressPolicy.of(settings.connector_allowed_networks),
            )
            connectors[(tenant.id, route.id)] = connector_class(route.connector).from_config(
                route.options, context=context, timeout=timeout
            )
    return connectors


@dataclass
class Service:
    settings: Settings
    deployment: Deployment
    engine: AsyncEngine
    repository: Repository
    worker: Worker | None
    app: web.Application | None
    connectors: dict[RouteKey, Connector[Any]]
    intakes: list[intake.Intake] = field(default_factory=list)


async def open_service(
    settings: Settings, *, api: bool, worker: bool, upgrade: bool = False
) -> Service:
    deployment = load_deployment(settings.config_dir)
    audit.use_keys(
        audit_keys.for_service(
            settings.database_url, settings.audit_key, unkeyed=settings.audit_unkeyed
        )
    )
    engine = create_engine(settings.database_url)
    try:
        if upgrade:
            await migrate.upgrade(settings.database_url)
        await migrate.ensure_current(engine)
        if api:
            spool.check_directory(settings.spool_dir)
        connectors = build_connectors(deployment, settings) if worker else {}
        intakes = intake.configured_intakes(deployment)
    except BaseException:
        await engine.dispose()
        raise
    repository = Repository(engine, notify=settings.pg_notify)
    worker_id = default_worker_id()
    the_worker = (
        Worker(
            settings=settings,
            deployment=deployment,
            repository=repository,
            queue=DeliveryQueue(engine),
            connectors=connectors,
            worker_id=worker_id,
        )
        if worker
        else None
    )
    app = (
        create_app(
            settings=settings,
            deployment=deployment,
            repository=repository,
            router=Router(deployment),
            on_accepted=the_worker.wake if the_worker else None,
            intakes=intakes,
        )
        if api
        else None
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
                "roles": ",".join(r for r, on in (("api", api), ("worker", worker)) if on),
            },
        ),
    )
    return Service(settings, deployment, engine, repository, the_worker, app, connectors, intakes)


async def run_service(
    settings: Settings,
    *,
    api: bool,
    worker: bool,
    upgrade: bool = False,
    started: Callable[[Service], Awaitable[None]] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, then shut down cleanly."""
    malloc.fix_mmap_threshold()
    service = await open_service(settings, api=api, worker=worker, upgrade=upgrade)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner: web.AppRunner | None = None
    worker_task: asyncio.Task[None] | None = None
    listener: asyncio.Task[None] | None = None
    intake_tasks: list[asyncio.Task[None]] = []
    checkpoints: asyncio.Task[None] | None = None
    try:
        if service.app is not None:
            runner = connections.runner(service.app, settings)
            await runner.setup()
            await web.TCPSite(runner, settings.host, settings.port).start()
            logger.info("service.listening", url=f"http://{settings.host}:{settings.port}")
        if service.worker is not None:
            worker_task = asyncio.create_task(service.worker.run(), name="worker")
            if settings.pg_notify and service.engine.dialect.name == "postgresql":
                listener = asyncio.create_task(
                    listen(settings.database_url, service.worker.wake), name="pg-listen"
                )
            intake_tasks = intake.start(
                service.intakes,
                intake.IntakeContext(
                    settings,
                    service.deployment,
                    service.repository,
                    Router(service.deployment),
                    service.worker.wake,
                ),
            )
        checkpoints = start_checkpoint_log(service.engine, settings.audit_checkpoint_interval)
        logger.info(
            "service.started", api=api, worker=worker, tenants=len(service.deployment.tenants)
        )
        if started is not None:
            await started(service)
        stop_waiter = asyncio.create_task(stop.wait())
        watch = [stop_waiter] + ([worker_task] if worker_task else [])
        await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
        stop_waiter.cancel()
        logger.info("service.stopping")
    finally:
        await stop_checkpoint_log(checkpoints)
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await intake.stop(service.intakes, intake_tasks, grace=settings.shutdown_grace)
        if runner is not None:
            await runner.cleanup()
        if service.worker is not None and worker_task is not None:
            service.worker.stop()
            await worker_task
        for connector in service.connectors.values():
            await connector.aclose()
        await service.engine.dispose()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    logger.info("service.stopped")
