"""One ozgbridge process running: the API, the worker, or both (the embedded default).

`ozgbridge.assembly.open_service` builds the parts; `run_service` serves them. Worker processes
also run the retention purge as a task of its own. Shutdown is the reverse of start-up: stop
taking HTTP requests, let the worker and the purge finish or hand back what they hold, close
connectors, release the database.

SIGHUP (like ``POST /v1/admin/reload``) reloads the configuration directory in this process
(`ozgbridge.live`); worker processes restart their intakes with the new configuration. With
``OZGBRIDGE_CONFIG_WATCH_SECONDS`` the process also reloads when the files or the data or audit
key file change (Kubernetes ConfigMap and Secret volumes).

A group of API processes (``ozgbridge api --processes N``, `ozgbridge.processes`) does the
start-up work that must happen once in its supervisor (`ozgbridge.processes.prepare_group`); each
process then runs `run_service` as a single ``ozgbridge api`` would, on a port shared with
``SO_REUSEPORT``.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import web

from ozgbridge import audit_keys, gctuning
from ozgbridge.api import connections
from ozgbridge.api.state import RELOAD_OTHERS
from ozgbridge.assembly import Service, cancel, open_service
from ozgbridge.audit_verify import start_checkpoint_log
from ozgbridge.dataprotection.startup import embedded_key_file
from ozgbridge.live import config_digest, watch
from ozgbridge.metrics_http import worker_metrics_app
from ozgbridge.process_link import SupervisorLink
from ozgbridge.settings import Settings
from ozgbridge.store.notify import listen

logger = structlog.get_logger("ozgbridge.service")


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


def _key_files(settings: Settings) -> list[tuple[Path, bool]]:
    """The data and the audit key file a reload reads again (also before they exist), each
    with whether it is the embedded default's, which the service makes itself."""
    candidates = (
        (settings.data_keys, embedded_key_file(settings)),
        (settings.audit_key, audit_keys.embedded_file(settings.database_url)),
    )
    found = []
    for given, embedded in candidates:
        path = given or embedded
        if path is not None:
            found.append((path, given is None))
    return found


async def _watch_baseline(settings: Settings) -> tuple[list[Path], str] | None:
    """What the file watch follows besides the configuration directory — the key files — and
    the digest of it all; None without a watch."""
    if settings.config_watch_seconds <= 0:
        return None
    also = [path for path, _embedded in _key_files(settings)]
    return also, await asyncio.to_thread(config_digest, settings.config_dir, *also)


async def _open_watched(
    settings: Settings, *, api: bool, worker: bool, upgrade: bool, create_embedded_keys: bool
) -> tuple[Service, tuple[list[Path], str] | None]:
    """`open_service`, and the file watch's baseline taken before it read the configuration —
    or after, when this start created an embedded key file: that is no change to reload for."""
    creates_keys = any(embedded and not path.exists() for path, embedded in _key_files(settings))
    baseline = await _watch_baseline(settings)
    service = await open_service(
        settings,
        api=api,
        worker=worker,
        upgrade=upgrade,
        create_embedded_keys=create_embedded_keys,
    )
    if creates_keys:
        baseline = await _watch_baseline(settings)
    return service, baseline


def _start_watch(
    service: Service, settings: Settings, baseline: tuple[list[Path], str] | None
) -> asyncio.Task[None] | None:
    if baseline is None:
        return None
    also, seen = baseline
    return asyncio.create_task(
        watch(service.live, settings.config_dir, settings.config_watch_seconds, also, seen),
        name="config-watch",
    )


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
    service, baseline = await _open_watched(
        settings, api=api, worker=worker, upgrade=upgrade, create_embedded_keys=create_embedded_keys
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
        watcher = _start_watch(service, settings, baseline)
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
        await cancel(checkpoints)
        loop.remove_signal_handler(signal.SIGHUP)
        await cancel(watcher)
        await service.finish_reloads()
        await cancel(listener)
        await service.stop_intakes(service.live.runtime)
        await _cleanup(runner, metrics_runner)  # no more requests, no more scrapes
        await _stop_loops(service, worker_task, dispatcher_task)
        await service.live.aclose()
        await service.engine.dispose()
        _stop_listening(loop, supervisor)
    logger.info("service.stopped")
