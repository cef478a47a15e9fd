"""Liveness and readiness probes (no authentication: orchestrators call them)."""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from ozgbridge.api.problems import Problem
from ozgbridge.api.schemas_out import HealthOut
from ozgbridge.api.state import REPOSITORY

READY_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger("ozgbridge.api.health")

_OK = HealthOut().model_dump_json(by_alias=True)


async def healthz(request: web.Request) -> web.StreamResponse:
    """The process answers HTTP; says nothing about the database."""
    return web.Response(text=_OK, content_type="application/json")


async def readyz(request: web.Request) -> web.StreamResponse:
    """Ready to accept applications: the database answers within two seconds."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await request.app[REPOSITORY].ping()
    except Exception as exc:
        # Details stay in the log: a probe endpoint is unauthenticated.
        log.warning("health.not_ready", error_type=type(exc).__name__)
        raise Problem(503, "the database is not reachable") from None
    return web.Response(text=_OK, content_type="application/json")
