"""HTML: the report as a self-contained page (CLI) and as sections the dashboard embeds.

Server-rendered, one inline stylesheet, inline SVG charts, no scripts and nothing fetched from
elsewhere. Every value passes through `html.escape`. German throughout: labels, numbers
(``1.234``, ``2,5 s``, ``97,5 %``), dates. Tenants appear each Kreis first, its towns after it;
tables longer than `OPEN_UP_TO` rows start collapsed, their row count in the summary line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from importlib import resources
from typing import Any

from ozgbridge.reporting import labels
from ozgbridge.reporting.charts import health_chart, volume_chart
from ozgbridge.reporting.fmt import (
    fmt_bool,
    fmt_datetime,
    fmt_delta,
    fmt_delta_share,
    fmt_int,
    fmt_month,
    fmt_period,
    fmt_ratio,
    fmt_seconds,
    fmt_share,
)
from ozgbridge.reporting.matrix import coverage_chart
from ozgbridge.reporting.model import Report
from ozgbridge.reporting.processing import processing_section

# One stylesheet for the report page and the dashboard, inlined: pages must not fetch anything.
CSS = resources.files("ozgbridge.reporting").joinpath("data", "report.css").read_text("utf-8")
OPEN_UP_TO = 12

Column = tuple[str, Callable[[Any], str], bool]  # header, cell text, numeric


def _table(table_id: str, columns: Sequence[Column], rows: Sequence[Any], *, group: bool) -> str:
    """A table; with ``group``, a heading row wherever the Kreis changes."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h, _, _ in columns)
    body, current = [], None
    for row in rows:
        kreis = getattr(row, "kreis", None)
        if group and kreis != current:
            current = kreis
            body.append(
                f'<tr class="group"><th scope="rowgroup" colspan="{len(columns)}">'
                f"{escape(kreis or labels.COLUMNS['region_name'])}</th></tr>"
            )
        cells = []
        for i, (_, text, numeric) in enumerate(columns):
            value = escape(text(row))
            if i == 0:
                cells.append(f'<th scope="row">{value}</th>')
            else:
                cells.append(f'<td class="num">{value}</td>' if numeric else f"<td>{value}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def collapsible(title: str, count: int, content: str) -> str:
    opened = " open" if count <= OPEN_UP_TO else ""
    return (
        f"<details{opened}><summary>{escape(title)} ({fmt_int(count)} "
        f"{'Zeile' if count == 1 else 'Zeilen'})</summary>{content}</details>"
    )


def _maturity(model: str | None, level: int | None) -> str:
    return "–" if model is None or level is None else f"{model} · {level}"


def kpis(report: Report) -> str:
    t, before = report.totals, report.previous
    h = before.headline if before is not None else None

    def count(kid: str, label: str, field: str, *, delta: bool = True) -> tuple[str, ...]:
        value = getattr(t, field)
        change = fmt_delta(value, getattr(h, field)) if h is not None and delta else ""
        return kid, fmt_int(value), label, change

    share = fmt_delta_share(t.availability, h.availability) if h is not None else ""
    items = [
        count("kpi-received", "eingegangen", "received"),
        count("kpi-delivered", "zugestellt", "delivered"),
        count("kpi-pending", "offen", "pending", delta=False),
        count("kpi-dead", "gescheitert", "dead"),
        ("kpi-availability", fmt_share(t.availability), "Verfügbarkeit (zugestellt ≤ 1 h)", share),
        count("kpi-offered", "Leistungen angeboten", "services_offered"),
        count("kpi-online", "Leistungen online", "services_online"),
        count("kpi-area-wide", "davon flächendeckend", "services_area_wide"),
        count("kpi-refusals", "Nachfrage ohne Angebot", "refusals"),
    ]
    tiles = "".join(
        f'<li id="{kid}"><span class="value">{escape(value)}</span>{escape(label)}'
        + (f'<span class="delta">Δ {escape(delta)}</span>' if delta else "")
        + "</li>"
        for kid, value, label, delta in items
    )
    compared = (
        f'<p class="muted" id="compared">Δ: Veränderung gegenüber dem Vorzeitraum '
        f"{escape(fmt_period(before.period))}.</p>"
        if before is not None
        else ""
    )
    return f'<ul class="kpis">{tiles}</ul>{compared}'


def demand_section(report: Report, limit: int | None = None, *, collapse: bool = True) -> str:
    rows = report.unmet_demand[:limit] if limit else report.unmet_demand
    if not rows:
        return '<p id="demand-none">Keine abgelehnten Anträge im Zeitraum.</p>'
    columns: list[Column] = [
        ("Leistung", lambda r: r.service_name, False),
        ("LeiKa-Schlüssel", lambda r: r.leika_key, False),
        ("OZG-Leistung", lambda r: r.ozg_leistung or "–", False),
        ("Region", lambda r: r.region_name, False),
        ("Kreis", lambda r: r.kreis or "–", False),
        ("abgelehnte Anträge", lambda r: fmt_int(r.refusals), True),
        ("Monate", lambda r: fmt_int(r.months), True),
        ("letzter Monat", lambda r: fmt_month(r.last_month), True),
        ("heute jemand zuständig", lambda r: fmt_bool(r.routed_now), False),
    ]
    table = _table("table-demand", columns, rows, group=False)
    total = len(report.unmet_demand)
    more = f" (die {len(rows)} häufigsten von {total})" if len(rows) < total else ""
    if not collapse:
        return f"<p>Abgelehnt, weil niemand zuständig ist{more}:</p>{table}"
    return collapsible(f"Nachfrage ohne Angebot{more}", len(rows), table)


def services_table(report: Report) -> str:
    columns: list[Column] = [
        ("Leistung", lambda s: s.service_name, False),
        ("LeiKa-Schlüssel", lambda s: s.leika_key, False),
        ("OZG-ID", lambda s: s.ozg_id or "–", False),
        ("OZG-Leistung", lambda s: s.ozg_leistung or "–", False),
        ("angeboten in", lambda s: f"{s.tenants_offered} von {s.tenants_in_scope}", True),
        ("online in", lambda s: f"{s.tenants_online} von {s.tenants_in_scope}", True),
        ("flächendeckend", lambda s: fmt_bool(s.area_wide), False),
        ("eingegangen", lambda s: fmt_int(s.received), True),
        ("zugestellt", lambda s: fmt_int(s.delivered), True),
        ("Nachfrage ohne Angebot", lambda s: fmt_int(s.refusals), True),
    ]
    table = _table("table-services", columns, report.services, group=False)
    return collapsible("Leistungen: Angebot, online, Volumen", len(report.services), table)


def availability_table(
    report: Report, rows: Sequence[Any] | None = None, *, collapse: bool = True
) -> str:
    rows = report.availability if rows is None else rows
    columns: list[Column] = [
        ("Kommune", lambda r: r.tenant_name, False),
        ("Route", lambda r: r.route_id, False),
        ("Kanal", lambda r: r.connector or "–", False),
        ("Befund", lambda r: labels.verdict(r.verdict), False),
        ("Zustellungen", lambda r: fmt_int(r.deliveries), True),
        ("≤ 1 h zugestellt", lambda r: fmt_int(r.delivered_within_hour), True),
        ("Verfügbarkeit", lambda r: fmt_share(r.availability), True),
        ("gescheitert", lambda r: fmt_int(r.dead), True),
        ("zuletzt zugestellt", lambda r: fmt_datetime(r.last_delivered_at), False),
        ("Routentests ok", lambda r: "–" if r.checks_ok is None else fmt_int(r.checks_ok), True),
        ("Sperre offen", lambda r: fmt_seconds(r.breaker_open_s), True),
    ]
    table = _table("table-availability", columns, rows, group=True)
    return collapsible("Verfügbarkeit je Route", len(rows), table) if collapse else table


def tenant_services_table(report: Report) -> str:
    columns: list[Column] = [
        ("Kommune", lambda r: r.tenant_name, False),
        ("Leistung", lambda r: r.service_name, False),
        ("LeiKa-Schlüssel", lambda r: r.leika_key, False),
        ("OZG-Leistung", lambda r: r.ozg_leistung or "–", False),
        ("Kanal", lambda r: r.channel or "–", False),
        ("Reifegrad", lambda r: _maturity(r.maturity_model, r.maturity_level), False),
        ("eingegangen", lambda r: fmt_int(r.received), True),
        ("zugestellt", lambda r: fmt_int(r.delivered), True),
        ("offen", lambda r: fmt_int(r.pending), True),
        ("gescheitert", lambda r: fmt_int(r.dead), True),
        ("Median", lambda r: fmt_seconds(r.latency_median_s), True),
        ("p95", lambda r: fmt_seconds(r.latency_p95_s), True),
        ("Versuche je Zustellung", lambda r: fmt_ratio(r.attempts_per_delivered), True),
    ]
    table = _table("table-tenant-services", columns, report.tenant_services, group=True)
    return collapsible("Kommune × Leistung", len(report.tenant_services), table)


def usage_table(report: Report) -> str:
    columns: list[Column] = [
        ("Kommune", lambda u: u.tenant_name, False),
        ("Leistung", lambda u: u.service_name, False),
        ("LeiKa-Schlüssel", lambda u: u.leika_key, False),
        ("Anträge", lambda u: fmt_int(u.applications), True),
        ("zugestellt", lambda u: fmt_int(u.delivered), True),
        ("Volumen (Bytes)", lambda u: fmt_int(u.volume_bytes), True),
        ("zugestelltes Volumen (Bytes)", lambda u: fmt_int(u.delivered_volume_bytes), True),
    ]
    table = _table("table-usage", columns, report.usage, group=True)
    return collapsible("Nutzung für die Kostenverteilung", len(report.usage), table)


def _section(section_id: str, title: str, body: str) -> str:
    return (
        f'<section aria-labelledby="h-{section_id}"><h2 id="h-{section_id}">{escape(title)}</h2>'
        f"{body}</section>"
    )


def report_sections(report: Report, *, model: str | None = None, model_links: str = "") -> str:
    """The report's body: key figures with Δ, unmet demand, coverage, availability, usage,
    processing by the authorities."""
    return "".join(
        [
            _section("kpis", "Kennzahlen", kpis(report)),
            _section("demand", "Nachfrage ohne Angebot", demand_section(report)),
            _section(
                "coverage",
                "Abdeckung und Reifegrad",
                model_links + coverage_chart(report, model) + services_table(report),
            ),
            _section("availability", "Verfügbarkeit", availability_table(report)),
            _section("volume", "Nutzung", volume_chart(report)),
            _section("health", "Zustellung", health_chart(report) + tenant_services_table(report)),
            _section("usage", "Kostenverteilung", usage_table(report)),
            processing_section(report.processing),
        ]
    )


def period_text(report: Report) -> str:
    return f"{fmt_period(report.period)} (UTC)"


def render_html(report: Report) -> bytes:
    """A complete, self-contained HTML document (for `ozgbridge report --format html`)."""
    tenants = ", ".join(t.name for t in report.tenants)
    page = (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>OZG-Bericht {escape(period_text(report))}</title><style>{CSS}</style></head>"
        f'<body><header class="top"><h1>OZG-Bericht</h1></header><main>'
        f'<p id="period">Zeitraum: {escape(period_text(report))}. '
        f"Kommunen: {escape(tenants)}. "
        f'<span class="muted">Erstellt {escape(fmt_datetime(report.generated_at))}.</span></p>'
        f"{report_sections(report)}</main></body></html>"
    )
    return page.encode("utf-8")
