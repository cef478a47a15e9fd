"""``/v1/routes``: the route overview; pause, resume and test one route."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from ozgbridge.api.deliveries import read_body
from ozgbridge.api.problems import Problem, validation_problem
from ozgbridge.api.schemas_ops import RouteActionIn, RouteOut, RouteTestOut
from ozgbridge.api.scope import actor, operating_key, own_tenants, tenants_for
from ozgbridge.api.state import OPERATIONS
from ozgbridge.operations import RouteRow, UnknownRoute
from ozgbridge.ops.admission import RouteKey
from ozgbridge.tenant_models import Slug
from ozgbridge.tenants import ApiKey

# A mapping, so that an error names its field ("tenant"), as every other 422 does.
_TENANT_QUERY: TypeAdapter[dict[Literal["tenant"], str]] = TypeAdapter(
    dict[Literal["tenant"], Slug]
)


def route_out(row: RouteRow) -> RouteOut:
    return RouteOut(
        tenant=row.tenant_id,
        route=row.route_id,
        connector=row.connector,
        state=row.state,
        pending=row.pending,
        delivering=row.delivering,
        dead=row.dead,
        cancelled=row.cancelled,
        oldest_pending_seconds=row.oldest_pending_seconds,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
        consecutive_failures=row.consecutive_failures,
        open_until=row.open_until,
        max_in_flight=row.max_in_flight,
        rate_limit=row.rate_limit,
    )


def _json(text: str) -> web.Response:
    return web.Response(
        text=text, content_type="application/json", headers={"Cache-Control": "no-store"}
    )


async def list_routes(request: web.Request) -> web.StreamResponse:
    """GET /v1/routes[?tenant=]: every configured route this key may see, with its figures."""
    key = operating_key(request)
    # `tenant=` (empty) is a malformed tenant id, not "all tenants"
    requested = request.query.get("tenant")
    if requested is not None:
        try:
            _TENANT_QUERY.validate_python({"tenant": requested})
        except ValidationError as exc:
            raise validation_problem(exc) from None
    rows = await request.app[OPERATIONS].route_rows(tenants_for(key, requested))
    body = "[" + ",".join(route_out(r).model_dump_json(by_alias=True) for r in rows) + "]"
    return _json(body)


def _route_key(request: web.Request, key: ApiKey) -> RouteKey:
    """The route in the path, if it exists and this key may act on it; else 404."""
    route_key = (request.match_info["tenant"], request.match_info["route"])
    scope = own_tenants(key)
    try:
        request.app[OPERATIONS].route(route_key)
    except UnknownRoute:
        raise Problem(404, "no such route visible to this API key") from None
    if scope is not None and route_key[0] not in scope:
        raise Problem(404, "no such route visible to this API key")
    return route_key


async def pause_route(request: web.Request) -> web.StreamResponse:
    key = operating_key(request)
    route_key = _route_key(request, key)
    body = await read_body(request, RouteActionIn, optional=True)
    row = await request.app[OPERATIONS].pause(route_key, actor=actor(key), reason=body.reason)
    return _json(route_out(row).model_dump_json(by_alias=True))


async def resume_route(request: web.Request) -> web.StreamResponse:
    key = operating_key(request)
    route_key = _route_key(request, key)
    body = await read_body(request, RouteActionIn, optional=True)
    row = await request.app[OPERATIONS].resume(route_key, actor=actor(key), reason=body.reason)
    return _json(route_out(row).model_dump_json(by_alias=True))


async def check_route(request: web.Request) -> web.StreamResponse:
    """POST …/test: a signed synthetic ping through the route's real connector, answered at once."""
    key = operating_key(request)
    route_key = _route_key(request, key)
    result = await request.app[OPERATIONS].test_route(route_key, actor=actor(key))
    out = RouteTestOut(
        ok=result.ok,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
    )
    return _json(out.model_dump_json(by_alias=True))


def setup_route_ops(app: web.Application) -> None:
    app.router.add_get("/v1/routes", list_routes)
    app.router.add_post("/v1/routes/{tenant}/{route}/pause", pause_route)
    app.router.add_post("/v1/routes/{tenant}/{route}/resume", resume_route)
    app.router.add_post("/v1/routes/{tenant}/{route}/test", check_route)
