"""Typed application state, shared by the app factory and the handlers."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ozgbridge.metrics_db import DatabaseGauges
from ozgbridge.operations import Operations
from ozgbridge.routing import Router
from ozgbridge.settings import Settings
from ozgbridge.store.repository import Repository
from ozgbridge.tenants import Deployment

SETTINGS = web.AppKey("settings", Settings)
DEPLOYMENT = web.AppKey("deployment", Deployment)
REPOSITORY = web.AppKey("repository", Repository)
ROUTER = web.AppKey("router", Router)
# Called after each committed acceptance; the worker uses it to look for due work at once.
ON_ACCEPTED = web.AppKey[Callable[[], None] | None]("on_accepted")
OPERATIONS = web.AppKey("operations", Operations)
DATABASE_GAUGES = web.AppKey("database_gauges", DatabaseGauges)
