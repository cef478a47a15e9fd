"""The report to send on: a printable summary per Kreis (1–3 A4 pages each), with the charts.

One self-contained HTML document, one section per Kreis, each starting on a new page: key figures
with Δ to the previous period, unmet demand, the coverage and maturity matrix, usage, delivery
health, routes that need attention, and how the figures are counted. The stylesheet's print rules
make it what the browser's "save as PDF" and `ozgbridge report --format pdf` (headless Chromium,
`ozgbridge.reporting.render_pdf`) print.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ozgbridge.reporting import federal
from ozgbridge.reporting.availability import Verdict
from ozgbridge.reporting.charts import health_chart, volume_chart
from ozgbridge.reporting.fmt import fmt_datetime, fmt_period
from ozgbridge.reporting.matrix import coverage_chart
from ozgbridge.reporting.model import Report, RouteRow
from ozgbridge.reporting.render_html import CSS, availability_table, demand_section, kpis

TOP = 10
ATTENTION_BELOW = 0.95  # routes delivering fewer than this share within an hour are listed


def _attention(report: Report) -> list[RouteRow]:
    """Routes that failed in the period or deliver late — the worst first."""
    rows = [
        r
        for r in report.availability
        if r.verdict == Verdict.FAILING
        or (r.availability is not None and r.availability < ATTENTION_BELOW)
    ]
    rows.sort(key=lambda r: (r.availability if r.availability is not None else -1.0, r.tenant))
    return rows[:TOP]


def _how_counted() -> str:
    thresholds = ", ".join(
        f"Modell {m}: ab Stufe {level}" for m, level in federal.ONLINE_FROM_LEVEL.items()
    )
    return (
        '<section class="how"><h3>So wird gezählt</h3><ul>'
        "<li><strong>Online</strong>: eine Leistung ist für eine Kommune online, wenn sie dorthin "
        "geroutet ist, ihre Route im Zeitraum zugestellt hat (oder ohne Anträge einen "
        "erfolgreichen Routentest hatte) und ein erklärter Reifegrad die Online-Schwelle "
        f"erreicht ({escape(thresholds)}).</li>"
        "<li><strong>Flächendeckend</strong>: online in allen Kommunen des Berichts; die "
        "Spalte art_flaechendeckung folgt den Werten des Dashboards Digitale Verwaltung.</li>"
        "<li><strong>Verfügbarkeit</strong>: Anteil der im Zeitraum eingegangenen Anträge, die "
        "binnen einer Stunde zugestellt wurden.</li>"
        "<li><strong>Nachfrage ohne Angebot</strong>: Anträge, die abgelehnt wurden, weil "
        "niemand zuständig ist — gezählt je Leistung, Region und Monat, ohne Inhalte.</li>"
        "</ul></section>"
    )


def _section(title: str, report: Report) -> str:
    previous = (
        f" · Vorzeitraum {escape(fmt_period(report.previous.period))}" if report.previous else ""
    )
    attention = _attention(report)
    routes = (
        availability_table(report, attention, collapse=False)
        if attention
        else '<p class="muted">Alle Routen mit Zustellungen im Zeitraum unauffällig.</p>'
    )
    return (
        f'<section class="kreis" aria-label="{escape(title)}">'
        f"<h1>OZG-Bericht · {escape(title)}</h1>"
        f'<p class="period">Zeitraum {escape(fmt_period(report.period))} (UTC){previous} · '
        f"erstellt {escape(fmt_datetime(report.generated_at))}</p>"
        f"<h2>Kennzahlen</h2>{kpis(report)}"
        f"<h2>Nachfrage ohne Angebot</h2>{demand_section(report, TOP, collapse=False)}"
        f"<h2>Abdeckung und Reifegrad</h2>{coverage_chart(report)}"
        f"<h2>Nutzung</h2>{volume_chart(report)}"
        f"<h2>Zustellung</h2>{health_chart(report)}"
        f"<h2>Auffällige Routen</h2>{routes}"
        f"{_how_counted()}</section>"
    )


def summary_body(sections: Sequence[tuple[str, Report]]) -> str:
    """The sections alone (the dashboard's print view embeds them in its page)."""
    return f'<div class="summary">{"".join(_section(t, r) for t, r in sections)}</div>'


def render_summary(sections: Sequence[tuple[str, Report]]) -> str:
    """A complete, self-contained HTML document: one section per (Kreis name, its report)."""
    first = sections[0][1] if sections else None
    period = f" {fmt_period(first.period)}" if first is not None else ""
    return (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        f"<title>OZG-Bericht{escape(period)}</title><style>{CSS}</style></head>"
        f"<body>{summary_body(sections)}</body></html>"
    )
