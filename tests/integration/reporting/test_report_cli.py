"""`ozgbridge report`: every format from a seeded database, standard output kept clean."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from ozgbridge.cli import main
from ozgbridge.store.engine import create_engine
from tests.integration.reporting.support import CONTENT_MARKER, seed, write_config


@pytest.fixture
def seeded(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    async def fill() -> None:
        engine = create_engine(sqlite_url)
        try:
            await seed(engine)
        finally:
            await engine.dispose()

    asyncio.run(fill())
    monkeypatch.setenv("OZGBRIDGE_DATABASE_URL", sqlite_url)
    return write_config(tmp_path / "config")


def report(config: Path, *args: str) -> bytes:
    result = CliRunner().invoke(
        main,
        ["report", "--config", str(config), "--from", "2026-10", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout_bytes


def test_json_to_stdout(seeded: Path) -> None:
    document = json.loads(report(seeded, "--format", "json"))

    assert document["period"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert document["totals"]["received"] == 16


def test_csv_view_to_stdout(seeded: Path) -> None:
    rows = list(
        csv.DictReader(io.StringIO(report(seeded, "--format", "csv", "--view", "usage").decode()))
    )

    town_a = next(r for r in rows if (r["tenant"], r["leika_key"]) == ("town-a", "99050012104000"))
    assert (town_a["volume_bytes"], town_a["delivered_volume_bytes"]) == ("5000", "4400")


def test_xlsx_and_html_to_files(seeded: Path, tmp_path: Path) -> None:
    xlsx, html = tmp_path / "r.xlsx", tmp_path / "r.html"

    report(seeded, "--format", "xlsx", "--out", str(xlsx))
    report(seeded, "--format", "html", "--out", str(html), "--tenant", "town-a")

    overview = openpyxl.load_workbook(xlsx)["Übersicht"]
    assert dict(overview.iter_rows(min_row=2, max_col=2, values_only=True))["eingegangen"] == 16
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="de">' in page
    assert 'id="kpi-received"><span class="value">7</span>' in page
    for label in ("Kennzahlen", "Nachfrage ohne Angebot", "Abdeckung und Reifegrad", "2.0 · 3"):
        assert label in page
    assert "Gemeinde B" not in page
    assert CONTENT_MARKER not in page
    assert "<script" not in page


def test_errors_exit_2_with_a_message(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()

    unknown = runner.invoke(main, ["report", "--config", str(seeded), "--tenant", "atlantis"])
    bad_month = runner.invoke(main, ["report", "--config", str(seeded), "--from", "2026-13"])
    monkeypatch.setenv("OZGBRIDGE_CHROMIUM", str(seeded / "no-such-browser"))
    no_browser = runner.invoke(
        main, ["report", "--config", str(seeded), "--format", "pdf", "--out", "x.pdf"]
    )

    assert unknown.exit_code == 2
    assert "no such tenant: atlantis" in unknown.stderr
    assert bad_month.exit_code == 2
    assert "no such month" in bad_month.stderr
    assert no_browser.exit_code == 2
    assert "no-such-browser: no such file" in no_browser.stderr
