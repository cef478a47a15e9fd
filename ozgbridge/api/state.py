"""Typed application state, shared by the app factory and the handlers.

The configuration is *live*: a reload (SIGHUP, ``POST /v1/admin/reload``) replaces it while the
app runs, so handlers never keep it in app state of their own. They ask `current_deployment` /
`current_router` (or `current` for both): the first call in a request takes the configuration of
that moment, and every later call in the same request returns the same one, so one request never
mixes two configurations.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

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

SETTINGS = web.AppKey("settings", Settings)
REPOSITORY = web.AppKey("repository", Repository)
LIVE = web.AppKey("live", LiveConfig)
# Called after each committed acceptance; the worker uses it to look for due work at once.
ON_ACCEPTED = web.AppKey[Callable[[], None] | None]("on_accepted")
# In a group of API processes (`ozgbridge api --processes`): has the others reload too, after a
# reload this process made on request. Not set for a process on its own.
RELOAD_OTHERS = web.AppKey[Callable[[], None]]("reload_others")
OPERATIONS = web.AppKey("operations", Operations)
DATABASE_GAUGES = web.AppKey("database_gauges", DatabaseGauges)
# Bytes of submissions this API process may hold at once (OZGBRIDGE_INTAKE_MEMORY_BUDGET).
INTAKE_BUDGET = web.AppKey("intake_budget", ByteBudget)

_RUNTIME = web.RequestKey("runtime", Runtime)


def current(request: web.Request) -> Runtime:
    """The configuration this request runs with (taken on first use, then kept)."""
    runtime = request.get(_RUNTIME)
    if runtime is None:
        runtime = request.app[LIVE].runtime
        request[_RUNTIME] = runtime
    return runtime


def current_deployment(request: web.Request) -> Deployment:
    """Tenants, routes and API keys as configured for this request."""
    return current(request).deployment


def current_router(request: web.Request) -> Router:
    return current(request).router


STATUS_DESK = web.AppKey("status_desk", StatusDesk)
EVENT_LOG = web.AppKey("event_log", EventLog)
