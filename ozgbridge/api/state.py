"""Typed application state, shared by the app factory and the handlers."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ozgbridge.membudget import ByteBudget
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
# Bytes of submissions this API process may hold at once (OZGBRIDGE_INTAKE_MEMORY_BUDGET).
INTAKE_BUDGET = web.AppKey("intake_budget", ByteBudget)
