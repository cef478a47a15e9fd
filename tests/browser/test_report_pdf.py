"""`ozgbridge report --format pdf`: headless Chromium prints the summary, pdftotext reads it back.

Each Kreis gets its own section of one to three A4 pages, starting on a new page, in German.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ozgbridge.cli import main
from ozgbridge.store.engine import create_engine
from tests.browser.conftest import ARTIFACTS, chromium_or_skip, unavailable
from tests.integration.reporting.support import (
    CONTENT_MARKER,
    GEWERBE,
    App,
    oct_,
    seed,
    write_config,
)

pytestmark = pytest.mark.browser

SECOND_KREIS = [
    {
        "id": "kreis-zwei",
        "name": "Kreis Zwei",
        "ags": "05570000",
        "routes": [{"id": "alles", "services": ["*"], "connector": "filedrop"}],
    },
    {
        "id": "town-z",
        "name": "Stadt Z",
        "ags": "05570004",
        "parent": "kreis-zwei",
        "routes": [{"id": "gewerbe", "services": [GEWERBE], "connector": "filedrop"}],
    },
]


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        unavailable(f"no {tool} on PATH (apt-get install -y poppler-utils)")
    assert found is not None
    return found


def pdf_pages(path: Path) -> list[str]:
    info = subprocess.run(
        [poppler("pdfinfo"), str(path)], capture_output=True, text=True, check=True
    ).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return [
        subprocess.run(
            [poppler("pdftotext"), "-layout", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, count + 1)
    ]


@pytest.fixture
def two_kreise(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = write_config(tmp_path / "config")
    for tenant in SECOND_KREIS:
        (config / "tenants" / f"{tenant['id']}.yaml").write_text(yaml.safe_dump(tenant))

    async def fill() -> None:
        engine = create_engine(sqlite_url)
        try:
            await seed(engine)
            await seed(engine, [App("town-z", GEWERBE, oct_(9), "delivered", 4)], demand=[])
        finally:
            await engine.dispose()

    asyncio.run(fill())
    monkeypatch.setenv("OZGBRIDGE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("OZGBRIDGE_CHROMIUM", chromium_or_skip())
    return config


def test_pdf_summary_per_kreis(two_kreise: Path, tmp_path: Path) -> None:
    out = tmp_path / "bericht.pdf"

    result = CliRunner().invoke(
        main,
        [
            *("report", "--config", str(two_kreise), "--from", "2026-10"),
            *("--format", "pdf", "--out", str(out)),
        ],
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(out, ARTIFACTS / "bericht.pdf")
    pages = pdf_pages(out)
    starts = [i for i, text in enumerate(pages) if "OZG-Bericht ·" in text]
    assert len(starts) == 2, "each Kreis starts on a page of its own"
    assert "Kreis Beispiel" in pages[starts[0]]
    assert "Kreis Zwei" in pages[starts[1]]
    sections = [pages[starts[0] : starts[1]], pages[starts[1] :]]
    assert all(1 <= len(section) <= 3 for section in sections), [len(s) for s in sections]
    first = "\n".join(sections[0])
    for label in (
        "Zeitraum 01.10.2026 – 31.10.2026",
        "Vorzeitraum 01.09.2026 – 30.09.2026",
        "Kennzahlen",
        "eingegangen",
        "Leistungen online",
        "davon flächendeckend",
        "Nachfrage ohne Angebot",
        "Bewohnerparkausweis",
        "Abdeckung und Reifegrad",
        "2.0 · 3",
        "Nutzung",
        "Zustellung",
        "So wird gezählt",
    ):
        assert label in first, label
    assert "Stadt Z" not in first
    second = "\n".join(sections[1])
    assert "Stadt Z" in second
    assert "Stadt A" not in second
    assert CONTENT_MARKER not in first + second
