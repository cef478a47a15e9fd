"""``GET /v1/reports/ozg``: the OZG status report as JSON, CSV (one view) or XLSX.

Who sees what: coordinators and operators any tenants; a tenant key only its own tenant — asking
for another one is refused with 403 rather than silently narrowed, so a report can never look
complete while it is not. Portal keys get 403. Reports hold aggregates only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiohttp import web

from ozgbridge.api.auth import authenticate
from ozgbridge.api.problems import TYPE_VALIDATION, Problem
from ozgbridge.api.schemas_formats import DAY_OR_MONTH
from ozgbridge.api.schemas_out import FieldError
from ozgbridge.api.state import REPOSITORY, current_deployment
from ozgbridge.errors import AccessDenied
from ozgbridge.reporting import Period, Report, build_report, parse_period
from ozgbridge.reporting.build import UnknownTenantError
from ozgbridge.reporting.model import DEFAULT_VIEW, VIEWS
from ozgbridge.reporting.render_flat import render_csv, render_json
from ozgbridge.reporting.render_xlsx import render_xlsx
from ozgbridge.tenants import ApiKey, Role

FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
REPORT_ROLES = (Role.COORDINATOR, Role.OPERATOR, Role.TENANT)


class ScopeError(AccessDenied):
    """The key may not see (some of) the tenants asked for."""


def requested_tenants(values: Sequence[str]) -> list[str]:
    """``tenant=a&tenant=b`` and ``tenant=a,b`` alike; blanks ignored."""
    return sorted({t.strip() for value in values for t in value.split(",") if t.strip()})


def report_scope(key: ApiKey, requested: Sequence[str]) -> list[str] | None:
    """The tenants ``key`` gets a report for (None: all); `ScopeError` if it may not see them."""
    if key.role not in REPORT_ROLES:
        raise ScopeError(f"role {key.role} may not read reports")
    if key.role is Role.TENANT:
        assert key.tenant is not None  # ApiKey guarantees it for role tenant
        others = [t for t in requested if t != key.tenant]
        if others:
            raise ScopeError(f"a tenant key sees only its own tenant ({key.tenant})")
        return [key.tenant]
    return list(requested) or None


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        422,
        f"{field}: {message}",
        type=TYPE_VALIDATION,
        title="Request validation failed",
        errors=[FieldError(field=field, message=message)],
    )


def parse_query(query: web.BaseRequest) -> tuple[Period, list[str], str, str]:
    """Period, tenants, format and view from the query string; 422 problems for bad values."""
    params = query.query
    for bound in ("from", "to"):
        # Exactly the documented pattern: present means given, so an empty `to=` is refused
        # (not read as absent), and so are the other ISO 8601 spellings date.fromisoformat takes.
        for value in params.getall(bound, []):
            if not DAY_OR_MONTH.fullmatch(value):
                raise _invalid(bound, "is not a day (YYYY-MM-DD) or a month (YYYY-MM)")
    field = "from" if "from" in params else "to"
    try:
        period = parse_period(params.get("from"), params.get("to"))
    except ValueError as exc:
        raise _invalid(field, str(exc)) from None
    fmt = params.get("format", "json")
    if fmt not in FORMATS:
        raise _invalid("format", f"must be one of {', '.join(FORMATS)}")
    view = params.get("view", DEFAULT_VIEW)
    if view not in VIEWS:
        raise _invalid("view", f"must be one of {', '.join(VIEWS)}")
    return period, requested_tenants(params.getall("tenant", [])), fmt, view


def filename(report: Report, suffix: str) -> str:
    return f"ozg-report_{report.period.first}_{report.period.last}{suffix}"


async def render(report: Report, fmt: str, view: str) -> tuple[bytes, str]:
    """The body and file name for one format; XLSX is built off the event loop."""
    if fmt == "xlsx":
        return await asyncio.to_thread(render_xlsx, report), filename(report, ".xlsx")
    if fmt == "csv":
        return render_csv(report, view), filename(report, f"_{view}.csv")
    return render_json(report), filename(report, ".json")


async def make_report(
    request: web.Request, key: ApiKey, period: Period, requested: Sequence[str]
) -> Report:
    """The report this key may see; ScopeError or UnknownTenantError otherwise."""
    app = request.app
    scope = report_scope(key, requested)
    return await build_report(app[REPOSITORY].engine, current_deployment(request), period, scope)


async def get_ozg_report(request: web.Request) -> web.StreamResponse:
    """GET /v1/reports/ozg?from=&to=&tenant=&format=json|csv|xlsx&view=."""
    key = authenticate(request, current_deployment(request))
    period, requested, fmt, view = parse_query(request)
    try:
        report = await make_report(request, key, period, requested)
    except ScopeError as exc:
        raise Problem(403, str(exc)) from None
    except UnknownTenantError as exc:
        raise _invalid("tenant", str(exc)) from None
    body, name = await render(report, fmt, view)
    headers = {"Cache-Control": "no-store"}
    if fmt != "json":
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return web.Response(
        body=body,
        headers=headers,
        content_type=FORMATS[fmt].split(";")[0],
        charset=None if fmt == "xlsx" else "utf-8",
    )


def setup_report_routes(app: web.Application) -> None:
    app.router.add_get("/v1/reports/ozg", get_ozg_report)
