"""``GET /metrics``: Prometheus text exposition for keys with role operator or metrics."""

from __future__ import annotations

from aiohttp import web

from ozgbridge.api.auth import authenticate
from ozgbridge.api.problems import Problem
from ozgbridge.api.state import DATABASE_GAUGES, current_deployment
from ozgbridge.metrics_http import exposition, exposition_registry
from ozgbridge.tenants import Role

METRICS_ROLES = (Role.OPERATOR, Role.METRICS)


async def serve_metrics(request: web.Request) -> web.StreamResponse:
    key = authenticate(request, current_deployment(request))
    if key.role not in METRICS_ROLES:
        raise Problem(403, f"role {key.role} may not read metrics (operator or metrics may)")
    gauges = request.app[DATABASE_GAUGES]
    await gauges.refresh()
    return exposition(exposition_registry([gauges]))
