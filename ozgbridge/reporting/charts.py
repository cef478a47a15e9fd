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

from ozgbridge.reporting.model import Report

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
OTHER = "#8C8C8C"
HEALTH = {"delivered": "#009E73", "pending": "#E69F00", "dead": "#D55E00"}
# Light to dark blue by maturity as a share of the model's top level (1.1: 0–4, 2.0: 0–7).
MATURITY_FILLS = ["#DEEBF7", "#9ECAE1", "#6BAED6", "#3182BD", "#08519C"]
MATURITY_MAX = {"1.1": 4, "2.0": 7}
TOP_SERVICES = 6


def fmt_int(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} s"


def _luminance(colour: str) -> float:
    """WCAG relative luminance of ``#RRGGBB``."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _text_colour(fill: str) -> str:
    """Black or white, whichever has the higher WCAG contrast ratio on ``fill``."""
    luminance = _luminance(fill)
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#FFFFFF"


def _figure(
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


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int = 1) -> str:
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
                f"<title>{escape(month)} · {escape(label)}: {fmt_int(count)}</title></rect>"
            )
        if len(months) <= 24 or index % 3 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle" '
                f'font-size="11">{escape(month)}</text>'
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
        [month] + [fmt_int(values[(month, s)]) for s in series] + [fmt_int(totals[i])]
        for i, month in enumerate(months)
    ]
    headers = (
        ["Monat"]
        + ["weitere Leistungen" if s == "other" else names[s] for s in series]
        + ["gesamt"]
    )
    desc = f"Eingegangene Anträge je Monat, {fmt_int(sum(totals))} insgesamt."
    return _figure(
        "chart-volume",
        ("Anträge je Monat und Leistung", desc),
        "".join(parts),
        (width, height),
        _table(headers, rows),
    )


def _maturity_fill(model: str, level: int) -> str:
    share = level / MATURITY_MAX[model]
    return MATURITY_FILLS[min(len(MATURITY_FILLS) - 1, round(share * (len(MATURITY_FILLS) - 1)))]


def coverage_chart(report: Report) -> str:
    """Matrix tenants × services: online or not, coloured by the declared maturity level."""
    tenants = [
        (tid, name) for tid, name in report.tenants if any(c.tenant == tid for c in report.coverage)
    ]
    keys = [s.leika_key for s in report.services]
    names = {s.leika_key: s.service_name for s in report.services}
    cells = {(c.tenant, c.leika_key): c for c in report.coverage}
    left, top, cell = 190, 170, 30
    width = left + cell * max(len(keys), 1) + 150  # room for the slanted service names
    height = top + cell * max(len(tenants), 1) + 60
    parts = []
    for col, key in enumerate(keys):
        x = left + col * cell + cell / 2
        parts.append(
            f'<text transform="translate({x:.1f},{top - 6}) rotate(-55)" font-size="11">'
            f"{escape(names[key][:30])}</text>"
        )
    table_rows = []
    for row, (tenant_id, tenant_name) in enumerate(tenants):
        y = top + row * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4:.1f}" text-anchor="end" font-size="12">'
            f"{escape(tenant_name[:28])}</text>"
        )
        table_row = [tenant_name]
        for col, key in enumerate(keys):
            c = cells.get((tenant_id, key))
            x = left + col * cell
            via = "alle Mitglieder" if c is not None and c.served_by == "members" else None
            via = via or (c.served_by if c is not None else None)
            if c is None or c.online_status != "online":
                fill, label, text = "#F2F2F2", "–", "nicht online"
            elif c.maturity_model is None or c.maturity_level is None:
                fill, label, text = "#FFFFFF", "?", f"online über {via}, Reifegrad ohne Angabe"
            else:
                fill = _maturity_fill(c.maturity_model, c.maturity_level)
                label = str(c.maturity_level)
                text = (
                    f"online über {via}, Reifegrad {c.maturity_level} (Modell {c.maturity_model})"
                )
            table_row.append(text)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}" '
                f'stroke="#7A7A7A" stroke-width="0.5"><title>{escape(tenant_name)} · '
                f"{escape(names[key])}: {escape(text)}</title></rect>"
                f'<text x="{x + (cell - 2) / 2:.1f}" y="{y + cell / 2 + 3:.1f}" '
                f'text-anchor="middle" font-size="12" fill="{_text_colour(fill)}">{label}</text>'
            )
        table_rows.append(table_row)
    legend_y = top + cell * len(tenants) + 24
    parts.append(
        f'<text x="10" y="{legend_y}" font-size="12">Zahl: Reifegradstufe; – nicht online; '
        "? ohne Angabe. Farbe: Stufe als Anteil der höchsten des Modells (1.1: 4, 2.0: 7)</text>"
    )
    for i, fill in enumerate(MATURITY_FILLS):
        x = 10 + i * 60
        parts.append(
            f'<rect x="{x}" y="{legend_y + 10}" width="56" height="16" fill="{fill}" '
            'stroke="#7A7A7A" stroke-width="0.5"/>'
            f'<text x="{x + 28}" y="{legend_y + 22}" text-anchor="middle" font-size="11" '
            f'fill="{_text_colour(fill)}">{i * 100 // (len(MATURITY_FILLS) - 1)} %</text>'
        )
    width = max(width, 720)
    area_wide = sum(1 for s in report.services if s.art_flaechendeckung == "flaechendeckend")
    desc = (
        f"{len(keys)} Leistungen in {len(tenants)} Mandanten; {area_wide} davon flächendeckend "
        "online. Zellen zeigen die erklärte Reifegradstufe."
    )
    headers = ["Mandant", *(names[k] for k in keys)]
    return _figure(
        "chart-coverage",
        ("Abdeckung: Mandanten × Leistungen", desc),
        "".join(parts),
        (width, height),
        _table(headers, table_rows, numeric_from=len(headers)),
    )


def health_chart(report: Report) -> str:
    """Per tenant: shares delivered / pending / dead, with n and the p95 latency beside."""
    rows = report.tenant_health
    left, bar_w, row_h = 190, 380, 26
    width, height = left + bar_w + 230, 30 + row_h * max(len(rows), 1) + 30
    parts = []
    for i, r in enumerate(rows):
        y = 10 + i * row_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(r.tenant_name[:28])}</text>"
        )
        x = float(left)
        for state, count in (("delivered", r.delivered), ("pending", r.pending), ("dead", r.dead)):
            if not r.received or not count:
                continue
            w = bar_w * count / r.received
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{HEALTH[state]}"><title>{escape(r.tenant_name)} · {_STATE_DE[state]}: '
                f"{fmt_int(count)}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{left + bar_w + 8}" y="{y + 15}" font-size="12">n = {fmt_int(r.received)}'
            f" · p95 {fmt_seconds(r.latency_p95_s)}</text>"
        )
    legend_y = 10 + row_h * len(rows) + 16
    for i, (state, colour) in enumerate(HEALTH.items()):
        parts.append(
            f'<rect x="{left + i * 130}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{colour}"/><text x="{left + i * 130 + 18}" y="{legend_y}" font-size="12">'
            f"{_STATE_DE[state]}</text>"
        )
    table = _table(
        ["Mandant", "eingegangen", "zugestellt", "offen", "gescheitert", "Median", "p95"],
        [
            [
                r.tenant_name,
                fmt_int(r.received),
                fmt_int(r.delivered),
                fmt_int(r.pending),
                fmt_int(r.dead),
                fmt_seconds(r.latency_median_s),
                fmt_seconds(r.latency_p95_s),
            ]
            for r in rows
        ],
    )
    dead = sum(r.dead for r in rows)
    desc = f"Zustellung je Mandant: Anteile zugestellt, offen, gescheitert; {dead} gescheitert."
    return _figure(
        "chart-health", ("Zustellung je Mandant", desc), "".join(parts), (width, height), table
    )


_STATE_DE = {"delivered": "zugestellt", "pending": "offen", "dead": "gescheitert"}
