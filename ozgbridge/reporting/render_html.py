"""HTML: the report as a self-contained page (CLI) and as sections the dashboard embeds.

Server-rendered, one inline stylesheet, inline SVG charts, no scripts and nothing fetched from
elsewhere. Every value passes through `html.escape`. Numbers are formatted the German way
(``1.234``, ``2,5 s``), since the readers are German coordinators.
"""

from __future__ import annotations

from html import escape
from importlib import resources

from ozgbridge.reporting.charts import (
    coverage_chart,
    fmt_int,
    fmt_seconds,
    health_chart,
    volume_chart,
)
from ozgbridge.reporting.model import AREA_WIDE, NOWHERE, PARTIAL, Report
from ozgbridge.reporting.processing import processing_section

# One stylesheet for the report page and the dashboard, inlined: pages must not fetch anything.
CSS = resources.files("ozgbridge.reporting").joinpath("data", "report.css").read_text("utf-8")


AREA_LABELS = {AREA_WIDE: "flächendeckend", PARTIAL: "teilweise", NOWHERE: "keine"}


def _row(cells: list[str], numeric: set[int]) -> str:
    out = [f'<th scope="row">{escape(cells[0])}</th>']
    out += [
        f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
        for i, c in enumerate(cells[1:], start=1)
    ]
    return f"<tr>{''.join(out)}</tr>"


def _table(
    table_id: str, caption: str, headers: list[str], rows: list[list[str]], numeric: set[int]
) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(_row(r, numeric) for r in rows)
    return (
        f'<table id="{table_id}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _maturity(model: str | None, level: int | None) -> str:
    return "–" if model is None or level is None else f"{level} (Modell {model})"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}".replace(".", ",")


def report_sections(report: Report) -> str:
    """The report's body: key figures, three charts, and the views as tables."""
    t = report.totals
    kpis = [
        ("eingegangen", t.received, "kpi-received"),
        ("zugestellt", t.delivered, "kpi-delivered"),
        ("offen", t.pending, "kpi-pending"),
        ("gescheitert", t.dead, "kpi-dead"),
        ("Leistungen online", t.services_online, "kpi-online"),
        ("davon flächendeckend", t.services_area_wide, "kpi-area-wide"),
    ]
    kpi_html = "".join(
        f'<li id="{kid}"><span class="value">{fmt_int(value)}</span>{escape(label)}</li>'
        for label, value, kid in kpis
    )
    tenant_services = _table(
        "table-tenant-services",
        "Mandant × Leistung",
        [
            "Mandant",
            "Leistung",
            "LeiKa",
            "Kanal",
            "Reifegrad",
            "eingegangen",
            "zugestellt",
            "offen",
            "gescheitert",
            "Median",
            "p95",
            "Versuche je Zustellung",
        ],
        [
            [
                r.tenant_name,
                r.service_name,
                r.leika_key,
                r.channel or "–",
                _maturity(r.maturity_model, r.maturity_level),
                fmt_int(r.received),
                fmt_int(r.delivered),
                fmt_int(r.pending),
                fmt_int(r.dead),
                fmt_seconds(r.latency_median_s),
                fmt_seconds(r.latency_p95_s),
                _ratio(r.attempts_per_delivered),
            ]
            for r in report.tenant_services
        ],
        set(range(5, 12)),
    )
    services = _table(
        "table-services",
        "Leistungen: Abdeckung und Volumen",
        [
            "Leistung",
            "LeiKa",
            "OZG-ID",
            "OZG-Leistung",
            "online in",
            "Flächendeckung",
            "eingegangen",
            "zugestellt",
        ],
        [
            [
                s.service_name,
                s.leika_key,
                s.ozg_id or "–",
                s.ozg_leistung or "–",
                f"{s.tenants_online} von {s.tenants_in_scope}",
                AREA_LABELS[s.art_flaechendeckung],
                fmt_int(s.received),
                fmt_int(s.delivered),
            ]
            for s in report.services
        ],
        {4, 6, 7},
    )
    usage = _table(
        "table-usage",
        "Nutzung für die Kostenverteilung",
        [
            "Mandant",
            "Leistung",
            "Anträge",
            "zugestellt",
            "Volumen (Bytes)",
            "zugestelltes Volumen (Bytes)",
        ],
        [
            [
                u.tenant_name,
                u.service_name,
                fmt_int(u.applications),
                fmt_int(u.delivered),
                fmt_int(u.volume_bytes),
                fmt_int(u.delivered_volume_bytes),
            ]
            for u in report.usage
        ],
        {2, 3, 4, 5},
    )
    return (
        f'<section aria-labelledby="h-kpis"><h2 id="h-kpis">Kennzahlen</h2>'
        f'<ul class="kpis">{kpi_html}</ul></section>'
        f'<section aria-labelledby="h-volume"><h2 id="h-volume">Nutzung</h2>'
        f"{volume_chart(report)}</section>"
        f'<section aria-labelledby="h-coverage"><h2 id="h-coverage">Abdeckung und Reifegrad</h2>'
        f"{coverage_chart(report)}{services}</section>"
        f'<section aria-labelledby="h-health"><h2 id="h-health">Zustellung</h2>'
        f"{health_chart(report)}<details open><summary>Mandant × Leistung "
        f"({fmt_int(len(report.tenant_services))} Zeilen)</summary>{tenant_services}</details>"
        "</section>"
        f'<section aria-labelledby="h-usage"><h2 id="h-usage">Kostenverteilung</h2>'
        f"{usage}</section>"
        f"{processing_section(report.processing)}"
    )


def period_text(report: Report) -> str:
    first, last = report.period.first, report.period.last
    return f"{first:%d.%m.%Y} – {last:%d.%m.%Y} (UTC)"


def render_html(report: Report) -> bytes:
    """A complete, self-contained HTML document (for `ozgbridge report --format html`)."""
    tenants = ", ".join(name for _, name in report.tenants)
    page = (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>OZG-Bericht {escape(period_text(report))}</title><style>{CSS}</style></head>"
        f'<body><header class="top"><h1>OZG-Bericht</h1></header><main>'
        f"<p>Zeitraum: {escape(period_text(report))}. Mandanten: {escape(tenants)}. "
        f'<span class="muted">Erstellt {report.generated_at:%d.%m.%Y %H:%M} UTC.</span></p>'
        f"{report_sections(report)}</main></body></html>"
    )
    return page.encode("utf-8")
