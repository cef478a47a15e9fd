"""The maturity matrix cells: model and level in each, coloured by the share of the model's top."""

from __future__ import annotations

from typing import Any

from ozgbridge.reporting.matrix import MATURITY_FILLS, NOT_OFFERED, cell_look, maturity_fill
from ozgbridge.reporting.model import CoverageRow
from ozgbridge.reporting.render_html import OPEN_UP_TO, collapsible


def row(**changes: Any) -> CoverageRow:
    values: dict[str, Any] = {
        "leika_key": "99050012104000",
        "leika_name": "Gewerbe Anmeldung",
        "ars": "053700004004",
        "ars_name": "Stadt Erkelenz",
        "ars_federal_state": "05",
        "bundesland": "Nordrhein-Westfalen",
        "leika_bezeichnung": "Gewerbe Anmeldung",
        "ozgid": 10294,
        "ozg_bezeichnung": "Unternehmensanmeldung und -genehmigung",
        "url": None,
        "online_status": "ok",
        "aktiv": "ja",
        "art_flaechendeckung": "in mind. einer Kommune verfügbar",
        "tenant": "erkelenz",
        "kreis": "Kreis Heinsberg",
        "offered": True,
        "reason": "zugestellt",
        "served_by": "erkelenz",
        "served_by_name": "Stadt Erkelenz",
        "route_id": "gewerbe",
        "maturity_model": "2.0",
        "maturity_level": 4,
        "maturity_meets_threshold": True,
        "availability": 1.0,
    }
    return CoverageRow(**{**values, **changes})


def test_cells_say_model_and_level() -> None:
    fill, label, text, dashed = cell_look(row(), None)

    assert label == "2.0 · 4"
    assert "Reifegrad 4 von 7 (Modell 2.0)" in text
    assert fill == maturity_fill("2.0", 4)
    assert not dashed


def test_the_same_level_in_two_models_is_two_shades() -> None:
    assert maturity_fill("1.1", 3) != maturity_fill("2.0", 3)
    assert maturity_fill("1.1", 4) == maturity_fill("2.0", 7) == MATURITY_FILLS[-1]
    assert maturity_fill("1.1", 0) == MATURITY_FILLS[0]


def test_cells_that_are_not_online() -> None:
    assert cell_look(None, None)[:2] == (NOT_OFFERED, "–")
    assert cell_look(row(offered=False, reason="nicht_zustaendig"), None)[2] == (
        "nicht angeboten (niemand zuständig)"
    )
    failing = cell_look(row(online_status="nicht ok", reason="stoerung"), None)
    assert failing[1] == "!"
    assert failing[2].startswith("angeboten, nicht online: Anträge, aber keine Zustellung")
    assert failing[3]  # dashed border
    assert cell_look(row(maturity_model=None, maturity_level=None), None)[1] == "?"


def test_model_filter_hides_other_models() -> None:
    assert cell_look(row(), "2.0")[1] == "2.0 · 4"
    hidden = cell_look(row(), "1.1")
    assert hidden[1] == "·"
    assert "anderes Modell" in hidden[2]


def test_long_tables_start_collapsed_and_say_how_long() -> None:
    short = collapsible("Kommune × Leistung", OPEN_UP_TO, "<table></table>")
    long = collapsible("Kommune × Leistung", OPEN_UP_TO + 1, "<table></table>")

    assert short.startswith("<details open><summary>Kommune × Leistung (12 Zeilen)")
    assert long.startswith("<details><summary>Kommune × Leistung (13 Zeilen)")
    assert collapsible("Routen", 1, "").startswith("<details open><summary>Routen (1 Zeile)")
