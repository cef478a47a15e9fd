"""The report page of the dashboard, its print view and downloads — content only.

`ozgbridge.ui.routes` wraps these in the session and page handling. Links keep every filter
(period, tenants, Reifegrad model) so quick links, model filter and downloads show the same scope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from ozgbridge.api.reports import make_report, report_scope, requested_tenants
from ozgbridge.api.state import REPOSITORY, current_deployment
from ozgbridge.reporting import Period, parse_period
from ozgbridge.reporting.build import kreis_reports
from ozgbridge.reporting.federal import MATURITY_MAX
from ozgbridge.reporting.fmt import fmt_period
from ozgbridge.reporting.labels import SHEETS
from ozgbridge.reporting.period import presets
from ozgbridge.reporting.render_html import report_sections
from ozgbridge.reporting.render_summary import summary_body
from ozgbridge.reporting.tenant_tree import placed
from ozgbridge.tenants import ApiKey, Deployment
from ozgbridge.ui.pages import fill

HOME = "/ui/"
PRINT = "/ui/print"
MODEL = "modell"
CSV_VIEWS = ("tenant-services", "coverage", "unmet-demand", "availability")


def period_and_error(request: web.Request) -> tuple[Period, str]:
    try:
        return parse_period(request.query.get("from"), request.query.get("to")), ""
    except ValueError as exc:
        return (
            parse_period(None, None),
            f"Zeitraum ungültig ({exc}); gezeigt wird der laufende Monat.",
        )


def _model(request: web.Request) -> tuple[str | None, str]:
    model = request.query.get(MODEL) or None
    if model is not None and model not in MATURITY_MAX:
        return None, f"Reifegradmodell {model} unbekannt; gezeigt werden alle Modelle."
    return model, ""


def _href(path: str, query: dict[str, str]) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def _presets(query: dict[str, str], current: Period) -> str:
    links = []
    for label, period in presets(datetime.now(UTC).date()):
        target = {**query, "from": period.first.isoformat(), "to": period.last.isoformat()}
        mark = ' aria-current="true"' if period == current else ""
        links.append(
            f'<a href="{escape(_href(HOME, target))}"{mark} title="{fmt_period(period)}">'
            f"{escape(label)}</a>"
        )
    return "".join(links)


def _model_links(query: dict[str, str], model: str | None) -> str:
    base = {k: v for k, v in query.items() if k != MODEL}
    choices = [("alle Modelle", None), *((f"Modell {m}", m) for m in MATURITY_MAX)]
    links = []
    for label, value in choices:
        target = {**base, MODEL: value} if value else base
        mark = ' aria-current="true"' if value == model else ""
        links.append(f'<a href="{escape(_href(HOME, target))}"{mark}>{escape(label)}</a>')
    return f'<nav class="models" aria-label="Reifegradmodell">Reifegrad: {"".join(links)}</nav>'


def _tenant_filter(deployment: Deployment, key: ApiKey, chosen: list[str]) -> str:
    tenants = deployment.tenants
    if key.tenant is not None:  # a tenant key has exactly one choice: its own tenant
        name = tenants[key.tenant].name if key.tenant in tenants else key.tenant
        return f'<p class="tenant-fixed">Kommune: <strong>{escape(name)}</strong></p>'
    groups: dict[str, list[str]] = {}
    for p in placed(deployment):
        checked = " checked" if p.tenant.id in chosen else ""
        box = (
            f'<label><input type="checkbox" name="tenant" value="{escape(p.tenant.id)}"'
            f"{checked}> {escape(p.tenant.name)}</label>"
        )
        groups.setdefault(tenants[p.group].name, []).append(box)
    sets = "".join(
        f'<fieldset class="kreis"><legend>{escape(name)}</legend>{"".join(boxes)}</fieldset>'
        for name, boxes in groups.items()
    )
    return (
        '<fieldset class="tenants"><legend>Kommunen (keine Auswahl: alle)</legend>'
        f"{sets}</fieldset>"
    )


def _downloads(query: dict[str, str]) -> str:
    base = {k: v for k, v in query.items() if k != MODEL}
    links = [
        f'<a class="button" id="download-xlsx" href="'
        f'{escape(_href("/ui/download", {**base, "format": "xlsx"}))}" download>'
        "Excel (XLSX, alle Ansichten)</a>"
    ]
    for view in CSV_VIEWS:
        href = _href("/ui/download", {**base, "format": "csv", "view": view})
        links.append(
            f'<a class="button" id="download-csv-{view}" href="{escape(href)}" download>'
            f"CSV: {escape(SHEETS[view])}</a>"
        )
    links.append(
        f'<a class="button" id="print-view" href="{escape(_href(PRINT, base))}">'
        "Druckansicht je Kreis (als PDF speichern)</a>"
    )
    return "".join(links)


def _query(period: Period, requested: list[str], model: str | None) -> dict[str, str]:
    query = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    if requested:
        query["tenant"] = ",".join(requested)
    if model:
        query[MODEL] = model
    return query


async def dashboard_content(request: web.Request, key: ApiKey) -> str:
    """The report page; `ScopeError` / `UnknownTenantError` when the key may not see it."""
    period, period_error = period_and_error(request)
    model, model_error = _model(request)
    requested = requested_tenants(request.query.getall("tenant", []))
    report = await make_report(request, key, period, requested)
    query = _query(period, requested, model)
    errors = "".join(
        f'<p class="error" role="alert">{escape(e)}</p>' for e in (period_error, model_error) if e
    )
    names = (
        f"alle ({len(report.tenants)})"
        if not requested and key.tenant is None
        else ", ".join(t.name for t in report.tenants)
    )
    return fill(
        "dashboard.html",
        first=period.first.isoformat(),
        last=period.last.isoformat(),
        model_field_html=(
            f'<input type="hidden" name="{MODEL}" value="{escape(model)}">' if model else ""
        ),
        tenant_filter_html=_tenant_filter(current_deployment(request), key, requested),
        presets_html=_presets({k: v for k, v in query.items() if k in ("tenant", MODEL)}, period),
        error_html=errors,
        period_text=f"{fmt_period(period)} (UTC)",
        tenant_names=names,
        downloads_html=_downloads(query),
        sections_html=report_sections(report, model=model, model_links=_model_links(query, model)),
    )


async def print_content(request: web.Request, key: ApiKey) -> str:
    """The printable summary, one section per Kreis in the key's scope."""
    period, error = period_and_error(request)
    requested = requested_tenants(request.query.getall("tenant", []))
    scope = report_scope(key, requested)
    sections = await kreis_reports(
        request.app[REPOSITORY].engine, current_deployment(request), period, scope
    )
    back = escape(_href(HOME, _query(period, requested, None)))
    note = (
        '<p class="print-hint">Zum Weitergeben: Drucken und „Als PDF speichern“ wählen; '
        f'je Kreis beginnt eine neue Seite. <a href="{back}">Zurück zum Dashboard</a></p>'
    )
    errors = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return note + errors + summary_body(sections)
