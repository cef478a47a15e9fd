"""The aiohttp application: typed state, middlewares, routes.

Middlewares, outermost first: `access_log_middleware` binds the request id and writes one
``http.request`` line per request with the final status and the client address;
`problem_middleware` turns every error into problem+json before that line is written;
`header_check_middleware` refuses unreadable framing headers (400) and resolves the client address
(see clients.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

import structlog
from aiohttp import web
from prometheus_client import Counter, Histogram

from ozgbridge import audit, metrics
from ozgbridge.api import (
    admin,
    applications,
    callbacks,
    clients,
    event_routes,
    health,
    openapi,
    status_routes,
)
from ozgbridge.api.auth import authenticated_key
from ozgbridge.api.deliveries import setup_delivery_routes
from ozgbridge.api.headers import setup_headers
from ozgbridge.api.key_usage import KEY_USAGE, KeyUsage, flush_periodically
from ozgbridge.api.metrics import serve_metrics
from ozgbridge.api.problems import (
    CLIENT_CLOSED,
    REQUEST_ID_KEY,
    Handler,
    client_gone,
    problem_middleware,
)
from ozgbridge.api.reports import setup_report_routes
from ozgbridge.api.route_ops import setup_route_ops
from ozgbridge.api.sanity import header_check_middleware
from ozgbridge.api.state import (
    DATABASE_GAUGES,
    EVENT_LOG,
    INTAKE_BUDGET,
    LIVE,
    ON_ACCEPTED,
    OPERATIONS,
    REPOSITORY,
    SETTINGS,
    STATUS_DESK,
)
from ozgbridge.ids import new_id
from ozgbridge.intake import Intake, intake_classes
from ozgbridge.live import LiveConfig
from ozgbridge.membudget import ByteBudget
from ozgbridge.metrics_db import DatabaseGauges
from ozgbridge.operations import Operations
from ozgbridge.routing import Router
from ozgbridge.runtime import Runtime
from ozgbridge.settings import Settings
from ozgbridge.status_desk import StatusDesk
from ozgbridge.store.outbox_views import EventLog
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import Deployment

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's request id is echoed into logs and headers, so only harmless characters pass.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = structlog.get_logger("ozgbridge.api.access")


def request_id_for(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else new_id()


def _path_template(request: web.Request) -> str:
    # The template keeps ids out of the field, so log lines group by endpoint.
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else request.path


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _metrics_handler(request: web.Request) -> str:
    # Only templates of real routes: a label per random path would grow without end.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


# The labelled series, looked up once each: ``labels()`` checks and locks on every call. Their
# number is bounded as the labels are (route templates, methods, statuses).
_COUNTERS: dict[tuple[str, str, int | None], Counter] = {}
_TIMERS: dict[tuple[str, str], Histogram] = {}


def _counted(handler: str, method: str, status: int | None) -> Counter:
    key = (handler, method, status)
    counter = _COUNTERS.get(key)
    if counter is None:
        label = str(status) if status is not None else "aborted"
        counter = _COUNTERS[key] = metrics.HTTP_REQUESTS.labels(handler, method, label)
    return counter


def _timed(handler: str, method: str) -> Histogram:
    timer = _TIMERS.get((handler, method))
    if timer is None:
        timer = _TIMERS[handler, method] = metrics.HTTP_DURATION.labels(handler, method)
    return timer


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_for(request)
    request[REQUEST_ID_KEY] = request_id
    started = time.perf_counter()
    status: int | None = None
    # Bound by token and reset to what it was: what `bound_contextvars` does, without reading
    # every context variable of the task first (a measurable share of a small request).
    tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            key = authenticated_key(request)
            extra = {}
            if status == CLIENT_CLOSED or (status is None and client_gone(request)):
                # The client went away before the answer was ready (nginx logs 499 too).
                status, extra = CLIENT_CLOSED, {"error": "client_closed"}
            elapsed = time.perf_counter() - started
            access_log.info(
                "http.request",
                method=request.method,
                path=_path_template(request),
                # behind OZGBRIDGE_TRUSTED_PROXIES, whom they forwarded for
                client=clients.for_log(request),
                status=status,
                duration_ms=round(elapsed * 1000, 1),
                key_id=key.id if key is not None else None,
                **extra,
            )
            handler_label = _metrics_handler(request)
            method = request.method if request.method in _METHODS else "other"
            _counted(handler_label, method, status).inc()
            _timed(handler_label, method).observe(elapsed)
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def create_app(
    *,
    settings: Settings,
    repository: Repository,
    live: LiveConfig | None = None,
    deployment: Deployment | None = None,
    router: Router | None = None,
    on_accepted: Callable[[], None] | None = None,
    intakes: Sequence[Intake] = (),
) -> web.Application:
    """The HTTP API, reading its configuration from ``live``.

    Without ``live`` (tests, tools) the app runs with ``deployment`` (and ``router``/``intakes``)
    and reloads from ``settings.config_dir`` as an API-only process would. ``on_accepted`` runs
    after each committed acceptance or status report (a worker wake-up).
    """
    if live is None:
        if deployment is None:
            raise TypeError("create_app needs live= or deployment=")
        live = _standalone(settings, repository, deployment, router, intakes)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[access_log_middleware, problem_middleware, header_check_middleware],
    )
    app[SETTINGS] = settings
    app[LIVE] = live
    app[REPOSITORY] = repository
    app[ON_ACCEPTED] = on_accepted
    app[KEY_USAGE] = KeyUsage()
    app.cleanup_ctx.append(flush_periodically)
    app[INTAKE_BUDGET] = ByteBudget(settings.intake_memory_budget)
    # Operations and gauges follow reloads: they read the configuration of the moment.
    app[OPERATIONS] = Operations(
        repository.engine, lambda: live.deployment, settings, wake=on_accepted
    )
    app[DATABASE_GAUGES] = DatabaseGauges(repository.engine, lambda: live.deployment)
    app[STATUS_DESK] = StatusDesk(
        repository.engine,
        sealer=repository.sealer,
        notify=repository.notify,
        on_news=on_accepted,
    )
    app[EVENT_LOG] = EventLog(repository.engine)
    app.router.add_post("/v1/applications", applications.submit)
    app.router.add_get("/v1/applications/{id}", applications.get_application)
    status_routes.setup_status_routes(app)
    event_routes.setup_event_routes(app)
    app.router.add_post("/v1/admin/reload", admin.reload)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/v1/openapi.json", openapi.serve)
    callbacks.setup_callback_routes(app, intake_classes())
    setup_report_routes(app)
    setup_delivery_routes(app)
    setup_route_ops(app)
    app.router.add_get("/metrics", serve_metrics)
    setup_headers(app)
    # Imported here: the dashboard builds on the API's auth and report modules, so importing it
    # at module level would make ozgbridge.api and ozgbridge.ui import each other.
    from ozgbridge.ui.routes import setup_ui  # noqa: PLC0415

    setup_ui(app)
    return app


def _standalone(
    settings: Settings,
    repository: Repository,
    deployment: Deployment,
    router: Router | None,
    intakes: Sequence[Intake],
) -> LiveConfig:
    from ozgbridge import runtime  # noqa: PLC0415 - only apps built without a service need it

    async def load() -> Runtime:
        return await runtime.build(runtime.load(settings), settings, worker=False)

    async def record(actor: str, action: str, details: dict[str, object]) -> None:
        await audit.record(repository.engine, audit.AuditEvent(actor, action, details=details))

    initial = Runtime(deployment, router or Router(deployment), intakes=list(intakes))
    return LiveConfig(initial, loader=load, auditor=record)
