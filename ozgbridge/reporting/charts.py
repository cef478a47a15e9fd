"""Charts as inline SVG: no scripts, no fonts, no requests — municipal networks are closed.

Each chart is a ``<figure>`` whose SVG has a title and description for screen readers, followed by
the same figures as a table (the accessible equivalent, and what a test can read). Colours are the
Okabe–Ito palette, distinguishable with the common colour-vision deficiencies; text on a fill is
dark or white, whichever contrasts more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from html import escape

from ozgbridge.reporting.fmt import fmt_int, fmt_month, fmt_seconds, fmt_share
from ozgbridge.reporting.model import Report

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
OTHER = "#8C8C8C"
HEALTH = {"delivered": "#009E73", "pending": "#E69F00", "dead": "#D55E00"}
TOP_SERVICES = 6


def luminance(colour: str) -> float:
    """WCAG relative luminance of ``#RRGGBB``."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def text_colour(fill: str) -> str:
    """Black or white, whichever has the higher WCAG contrast ratio on ``fill``."""
    lum = luminance(fill)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#FFFFFF"


def figure(
    chart_id: str, texts: tuple[str, str], svg_body: str, size: tuple[int, int], table: str
) -> str:
    title, desc = texts
    width, height = size
    return (
        f'<figure class="chart" id="{chart_id}">'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>'
        f"{svg_body}</svg>"
        f"<figcaption>{escape(title)}</figcaption>"
        f"<details><summary>{escape(title)} als Tabelle</summary>{table}</details></figure>"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int = 1) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = [f'<th scope="row">{escape(row[0])}</th>']
        cells += [
            f'<td class="num">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row[1:], start=1)
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _nice_max(value: int) -> int:
    """The smallest 4 × (1, 2 or 5 × 10^k) at or above ``value``: four whole-number gridlines."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if 4 * step * magnitude >= value:
                return 4 * step * magnitude
        magnitude *= 10


def volume_chart(report: Report) -> str:
    """Stacked bars: applications received per month, by service (top six, then the rest)."""
    months = report.months()
    per_service: dict[str, int] = defaultdict(int)
    for row in report.trend:
        per_service[row.leika_key] += row.received
    top = sorted(per_service, key=lambda k: (-per_service[k], k))[:TOP_SERVICES]
    names = {row.leika_key: row.service_name for row in report.trend}
    series = [*top, "other"] if len(per_service) > len(top) else top
    values: dict[tuple[str, str], int] = defaultdict(int)
    for row in report.trend:
        values[(row.month, row.leika_key if row.leika_key in top else "other")] += row.received
    totals = [sum(values[(m, s)] for s in series) for m in months]
    top_value = _nice_max(max(totals, default=0))
    width, left, plot_h, top_pad = 760, 56, 220, 12
    step = (width - left - 10) / max(len(months), 1)
    bar = min(48.0, step * 0.7)
    parts = []
    for i in range(5):
        value = top_value * i / 4
        y = top_pad + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#D0D0D0"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{fmt_int(int(value))}</text>"
        )
    for index, month in enumerate(months):
        x = left + step * index + (step - bar) / 2
        y = top_pad + plot_h
        for s_index, service in enumerate(series):
            count = values[(month, service)]
            if not count:
                continue
            h = plot_h * count / top_value
            y -= h
            colour = OTHER if service == "other" else PALETTE[s_index % len(PALETTE)]
            label = "weitere Leistungen" if service == "other" else names[service]
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(fmt_month(month))} · {escape(label)}: "
                f"{fmt_int(count)}</title></rect>"
            )
        if len(months) <= 24 or index % 3 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle" '
                f'font-size="11">{escape(fmt_month(month))}</text>'
            )
    legend_y = top_pad + plot_h + 36
    for s_index, service in enumerate(series):
        colour = OTHER if service == "other" else PALETTE[s_index % len(PALETTE)]
        label = "weitere Leistungen" if service == "other" else names[service]
        y = legend_y + 16 * s_index
        parts.append(
            f'<rect x="{left}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + 18}" y="{y}" font-size="12">{escape(label[:80])}</text>'
        )
    height = legend_y + 16 * len(series) + 4
    rows = [
        [fmt_month(month)] + [fmt_int(values[(month, s)]) for s in series] + [fmt_int(totals[i])]
        for i, month in enumerate(months)
    ]
    headers = (
        ["Monat"]
        + ["weitere Leistungen" if s == "other" else names[s] for s in series]
        + ["gesamt"]
    )
    desc = f"Eingegangene Anträge je Monat, {fmt_int(sum(totals))} insgesamt."
    return figure(
        "chart-volume",
        ("Anträge je Monat und Leistung", desc),
        "".join(parts),
        (width, height),
        table(headers, rows),
    )


def health_chart(report: Report) -> str:
    """Per tenant (each Kreis first, its towns indented): shares delivered / pending / dead, with
    n, the p95 latency and the availability beside."""
    rows = report.tenant_health
    depth = {t.id: t.depth for t in report.tenants}
    left, bar_w, row_h = 200, 360, 26
    width, height = left + bar_w + 300, 30 + row_h * max(len(rows), 1) + 30
    parts = []
    for i, r in enumerate(rows):
        y = 10 + i * row_h
        indent = 12 * depth.get(r.tenant, 0)
        weight = ' font-weight="bold"' if not depth.get(r.tenant, 0) else ""
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12"{weight}>'
            f"{escape(r.tenant_name[: 28 - indent // 6])}</text>"
        )
        x = float(left)
        for state, count in (("delivered", r.delivered), ("pending", r.pending), ("dead", r.dead)):
            if not r.received or not count:
                continue
            w = bar_w * count / r.received
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{HEALTH[state]}"><title>{escape(r.tenant_name)} · {STATE_DE[state]}: '
                f"{fmt_int(count)}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{left + bar_w + 8}" y="{y + 15}" font-size="12">n = {fmt_int(r.received)}'
            f" · p95 {fmt_seconds(r.latency_p95_s)} · ≤ 1 h: {fmt_share(r.availability)}</text>"
        )
    legend_y = 10 + row_h * len(rows) + 16
    for i, (state, colour) in enumerate(HEALTH.items()):
        parts.append(
            f'<rect x="{left + i * 130}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{colour}"/><text x="{left + i * 130 + 18}" y="{legend_y}" font-size="12">'
            f"{STATE_DE[state]}</text>"
        )
    data = table(
        [
            "Kommune",
            "eingegangen",
            "zugestellt",
            "offen",
            "gescheitert",
            "Median",
            "p95",
            "Verfügbarkeit (≤ 1 h)",
        ],
        [
            [
                r.tenant_name,
                fmt_int(r.received),
                fmt_int(r.delivered),
                fmt_int(r.pending),
                fmt_int(r.dead),
                fmt_seconds(r.latency_median_s),
                fmt_seconds(r.latency_p95_s),
                fmt_share(r.availability),
            ]
            for r in rows
        ],
    )
    dead = sum(r.dead for r in rows)
    desc = (
        "Zustellung je Kommune: Anteile zugestellt, offen, gescheitert; "
        f"{fmt_int(dead)} gescheitert."
    )
    return figure(
        "chart-health", ("Zustellung je Kommune", desc), "".join(parts), (width, height), data
    )


STATE_DE = {"delivered": "zugestellt", "pending": "offen", "dead": "gescheitert"}
