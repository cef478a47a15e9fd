"""scripts/refresh-gemeindeverzeichnis.py on a GV100AD ZIP as Destatis publishes it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from ozgbridge.regions.directory import read_csv
from tests.unit.regions.test_gv100ad import LINES

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "refresh-gemeindeverzeichnis.py"


def test_refresh_from_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "GV100AD3011.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("GV100AD_301123.txt", "\n".join(LINES) + "\n")
        zf.writestr("Datensatzbeschreibung.pdf", b"%PDF")
    out = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--file", str(archive), "--out", str(out), "--states", "05"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Gebietsstand 2023-11-30, 1 Länder, 1 Gemeinden" in result.stdout
    meta = json.loads((out / "gemeindeverzeichnis.json").read_text(encoding="utf-8"))
    assert meta["file"] == "GV100AD_301123.txt"
    assert meta["states"] == {"05": "Nordrhein-Westfalen"}
    entries = read_csv((out / "gemeindeverzeichnis.csv").read_text(encoding="utf-8"))
    assert [e.key for e in entries] == ["05", "051", "05370", "053700004004"]


def test_a_file_that_is_not_gv100ad_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "GV100AD_301123.txt"
    bogus.write_text("hello\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--file", str(bogus), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "GV100AD_301123.txt: line 1" in result.stderr
    assert not (tmp_path / "o").exists()
