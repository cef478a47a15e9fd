"""The coverage and maturity matrix: tenants (each Kreis first, its towns indented) × services.

Each online cell shows the model and level of its declared Reifegrad ("2.0 · 4") and is coloured
by the level's share of the model's highest (1.1: 4, 2.0: 7), so the same "3" in two models is
two different shades *and* says which model it is. A filter shows one model's cells only.
"""

from __future__ import annotations

from html import escape

from ozgbridge.reporting import federal, labels
from ozgbridge.reporting.charts import figure, table, text_colour
from ozgbridge.reporting.model import CoverageRow, Report

# Light to dark blue: 0 %, 25 %, 50 %, 75 %, 100 % of the model's highest level.
MATURITY_FILLS = ["#DEEBF7", "#9ECAE1", "#6BAED6", "#3182BD", "#08519C"]
NOT_OFFERED = "#F2F2F2"
NOT_ONLINE_STROKE = "#B5400A"
MODELS = tuple(federal.MATURITY_MAX)


def maturity_fill(model: str, level: int) -> str:
    share = federal.maturity_share(model, level)
    return MATURITY_FILLS[min(len(MATURITY_FILLS) - 1, round(share * (len(MATURITY_FILLS) - 1)))]


def _served(c: CoverageRow) -> str:
    return f" über {c.served_by_name}" if c.served_by_name else ""


def cell_look(c: CoverageRow | None, model: str | None) -> tuple[str, str, str, bool]:
    """Fill, label, description and whether the border is the "not online" one."""
    if c is None or not c.offered:
        reason = labels.reason(c.reason) if c is not None else "nicht im Bericht"
        return NOT_OFFERED, "–", f"nicht angeboten ({reason})", False
    level = (
        f", Reifegrad {c.maturity_level} von {federal.MATURITY_MAX[c.maturity_model]} "
        f"(Modell {c.maturity_model})"
        if c.maturity_model is not None and c.maturity_level is not None
        else ""
    )
    if c.online_status != federal.ONLINE_OK:
        return "#FFFFFF", "!", f"angeboten, nicht online: {labels.reason(c.reason)}{level}", True
    if c.maturity_model is None or c.maturity_level is None:
        return "#FFFFFF", "?", f"online{_served(c)}, Reifegrad ohne Angabe", False
    if model is not None and c.maturity_model != model:
        return "#FFFFFF", "·", f"online{_served(c)}{level} – anderes Modell, ausgeblendet", False
    return (
        maturity_fill(c.maturity_model, c.maturity_level),
        f"{c.maturity_model} · {c.maturity_level}",
        f"online{_served(c)}{level}",
        False,
    )


def coverage_chart(report: Report, model: str | None = None) -> str:
    keys = [s.leika_key for s in report.services]
    names = {s.leika_key: s.service_name for s in report.services}
    cells = {(c.tenant, c.leika_key): c for c in report.coverage}
    left, top, cw, ch = 230, 180, 56, 28
    width = max(760, left + cw * max(len(keys), 1) + 160)
    height = top + ch * max(len(report.tenants), 1) + 120
    parts = []
    for col, key in enumerate(keys):
        x = left + col * cw + cw / 2
        parts.append(
            f'<text transform="translate({x:.1f},{top - 6}) rotate(-55)" font-size="11">'
            f"{escape(names[key][:32])}</text>"
        )
    rows = []
    for row, tenant in enumerate(report.tenants):
        y = top + row * ch
        weight = ' font-weight="bold"' if tenant.depth == 0 else ""
        parts.append(
            f'<text x="{left - 6}" y="{y + ch / 2 + 4:.1f}" '
            f'text-anchor="end" font-size="12"{weight}>'
            f"{'· ' * tenant.depth}{escape(tenant.name[:30])}</text>"
        )
        texts = [tenant.name]
        for col, key in enumerate(keys):
            fill, label, text, dashed = cell_look(cells.get((tenant.id, key)), model)
            texts.append(text)
            x = left + col * cw
            stroke = (
                f'stroke="{NOT_ONLINE_STROKE}" stroke-width="1.5" stroke-dasharray="3 2"'
                if dashed
                else 'stroke="#7A7A7A" stroke-width="0.5"'
            )
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cw - 3}" height="{ch - 3}" fill="{fill}" '
                f"{stroke}><title>{escape(tenant.name)} · {escape(names[key])}: "
                f"{escape(text)}</title></rect>"
                f'<text x="{x + (cw - 3) / 2:.1f}" y="{y + ch / 2 + 3:.1f}" text-anchor="middle" '
                f'font-size="11" fill="{text_colour(fill)}">{escape(label)}</text>'
            )
        rows.append(texts)
    parts.append(_legend(top + ch * len(report.tenants) + 22, model))
    online = sum(1 for c in report.coverage if c.online_status == federal.ONLINE_OK)
    shown = f"; gezeigt: Modell {model}" if model else ""
    desc = (
        f"{len(keys)} Leistungen in {len(report.tenants)} Kommunen, {online} Zellen online. "
        f"Zellen zeigen Modell und Stufe des erklärten Reifegrads{shown}."
    )
    title = "Abdeckung und Reifegrad: Kommunen × Leistungen"
    headers = ["Kommune", *(names[k] for k in keys)]
    return figure(
        "chart-coverage",
        (title, desc),
        "".join(parts),
        (width, height),
        table(headers, rows, numeric_from=len(headers)),
    )


def _legend(y: int, model: str | None) -> str:
    lines = [
        "Zelle: Modell · Stufe des erklärten Reifegrads (z. B. „2.0 · 4“).",
        "Farbe: Stufe als Anteil der höchsten Stufe ihres Modells (1.1: 4, 2.0: 7):",
    ]
    parts = [
        f'<text x="10" y="{y + 16 * i}" font-size="12">{escape(line)}</text>'
        for i, line in enumerate(lines)
    ]
    boxes_y = y + 16 * len(lines) - 6
    for i, fill in enumerate(MATURITY_FILLS):
        x = 10 + i * 64
        parts.append(
            f'<rect x="{x}" y="{boxes_y}" width="60" height="18" fill="{fill}" stroke="#7A7A7A" '
            f'stroke-width="0.5"/><text x="{x + 30}" y="{boxes_y + 13}" text-anchor="middle" '
            f'font-size="11" fill="{text_colour(fill)}">'
            f"{i * 100 // (len(MATURITY_FILLS) - 1)} %</text>"
        )
    online_from = ", ".join(f"{m}: ab Stufe {federal.ONLINE_FROM_LEVEL[m]}" for m in MODELS)
    filter_note = f" Gezeigt: nur Modell {model} („·“: anderes Modell)." if model else ""
    notes = [
        "– nicht angeboten · ! angeboten, aber nicht online (gestrichelt) · "
        "? online, Reifegrad ohne Angabe.",
        f"Online-Schwelle des Reifegrads: {online_from}.{filter_note}",
    ]
    parts += [
        f'<text x="10" y="{boxes_y + 34 + 16 * i}" font-size="12">{escape(line)}</text>'
        for i, line in enumerate(notes)
    ]
    return "".join(parts)
