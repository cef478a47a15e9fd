"""A coordinator in a real browser: signs in, reads the figures, changes the period, downloads,
prints — at 1366 px wide, in German, with screenshots kept in test-artifacts/ and checked."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.browser.conftest import ARTIFACTS, unavailable
from tests.integration.reporting.support import CONTENT_MARKER, running_app, token

pytestmark = pytest.mark.browser

# What a coordinator must read on the page (and in its screenshot's text): German throughout.
GERMAN_LABELS = (
    "Kennzahlen",
    "eingegangen",
    "Leistungen online",
    "davon flächendeckend",
    "Nachfrage ohne Angebot",
    "Abdeckung und Reifegrad",
    "Verfügbarkeit",
    "Zustellung",
)
ENGLISH_WORDS = ("received", "delivered", "tenant", "coverage", "Report", "services")


def pdf_text(path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        unavailable("no pdftotext on PATH (apt-get install -y poppler-utils)")
    assert tool is not None
    return subprocess.run(
        [tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


async def expect_german_and_fitting(page: Any, screenshot: str) -> None:
    """The visible text has the German labels and no English ones, and at 1366 px nothing but
    wide tables inside their own scroll boxes is wider than the window."""
    text = await page.locator("main").inner_text()
    for label in GERMAN_LABELS:
        assert label in text, label
    for word in ENGLISH_WORDS:
        assert word not in text, word
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"the page is {width} px wide"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    # A screenshot really was taken, of the page as rendered (PNG, 1366 px wide).
    png = (ARTIFACTS / screenshot).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1366


async def show_period(page: Any, first: str, last: str) -> None:
    await page.get_by_label("Von (Tag, UTC)").fill(first)
    await page.get_by_label("Bis einschließlich").fill(last)
    await page.get_by_role("button", name="Anzeigen").click()
    await page.wait_for_load_state()


async def test_coordinator_dashboard_in_chromium(
    browser: Any, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_app(sqlite_url, tmp_path / "config") as app:
        context = await browser.new_context(
            accept_downloads=True, locale="de-DE", viewport={"width": 1366, "height": 768}
        )
        context.set_default_timeout(10_000)
        page = await context.new_page()
        blocked: list[str] = []
        page.on(
            "request",
            lambda request: (
                blocked.append(request.url) if not request.url.startswith(app.base_url) else None
            ),
        )

        await page.goto(f"{app.base_url}/ui/")
        assert page.url.endswith("/ui/login")
        await page.get_by_label("API-Schlüssel").fill(token("coordinator"))
        await page.get_by_role("button", name="Anmelden").click()
        await page.wait_for_url(f"{app.base_url}/ui/")

        await show_period(page, "2026-10-01", "2026-10-31")
        assert await page.locator("#kpi-received .value").inner_text() == "16"
        assert await page.locator("#kpi-dead .value").inner_text() == "2"
        for chart in ("chart-volume", "chart-coverage", "chart-health"):
            svg = page.locator(f"#{chart} svg")
            assert await svg.is_visible()
            assert await svg.get_attribute("role") == "img"
        health = page.locator("#chart-health")
        await health.locator("summary").click()
        row = health.locator("tr", has_text="Stadt A")
        assert await row.locator("td").nth(0).inner_text() == "7"  # received
        assert await row.locator("td").nth(5).inner_text() == "56,0 s"  # p95 over all 5 deliveries
        await expect_german_and_fitting(page, "dashboard.png")
        assert await page.locator("#kpi-received .delta").inner_text() == "Δ +15"
        assert "Vorzeitraum 01.09.2026 – 30.09.2026" in await page.locator("#compared").inner_text()
        demand = page.locator("#table-demand tbody tr")
        assert await demand.count() == 3
        assert "Bewohnerparkausweis Erteilung" in await demand.first.inner_text()
        # The matrix: model and level in each cell; the model filter keeps the period.
        matrix = page.locator("#chart-coverage svg")
        assert await matrix.locator("text", has_text="2.0 · 3").count() >= 1
        assert await matrix.locator("text", has_text="1.1 · 3").count() >= 1
        await page.get_by_role("link", name="Modell 2.0").click()
        await page.wait_for_load_state()
        assert await matrix.locator("text", has_text="1.1 · 3").count() == 0
        assert await page.locator("#kpi-received .value").inner_text() == "16"
        await page.screenshot(path=str(ARTIFACTS / "dashboard-modell-2.0.png"), full_page=True)

        await show_period(page, "2026-09-01", "2026-11-30")
        assert await page.locator("#kpi-received .value").inner_text() == "18"
        assert "01.09.2026 – 30.11.2026" in await page.locator("#period").inner_text()

        async with page.expect_download() as info:
            await page.locator("#download-xlsx").click()
        download = await info.value
        path = tmp_path / download.suggested_filename
        await download.save_as(path)
        assert download.suggested_filename == "ozg-report_2026-09-01_2026-11-30.xlsx"
        workbook = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
        overview = dict(workbook["Übersicht"].iter_rows(min_row=2, max_col=2, values_only=True))
        assert overview["eingegangen"] == 18
        assert CONTENT_MARKER not in await page.content()

        # The quick links: "letzter Monat" is the month before the current one.
        await page.get_by_role("link", name="letzter Monat").click()
        await page.wait_for_load_state()
        last = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
        assert (
            f"{last.replace(day=1):%d.%m.%Y} – {last:%d.%m.%Y}"
            in await page.locator("#period").inner_text()
        )

        # The print view, printed to PDF by this Chromium, read back with pdftotext.
        await show_period(page, "2026-10-01", "2026-10-31")
        await page.locator("#print-view").click()
        await page.wait_for_load_state()
        await expect_german_and_fitting(page, "druckansicht.png")
        pdf = tmp_path / "druckansicht.pdf"
        await page.emulate_media(media="print")
        await page.pdf(path=str(pdf), format="A4", print_background=True)
        text = pdf_text(pdf)
        for label in ("OZG-Bericht · Kreis Beispiel", "Kennzahlen", "Nachfrage ohne Angebot"):
            assert label in text
        assert "Abmelden" not in text  # the page chrome is not printed
        await page.emulate_media(media="screen")

        await page.get_by_role("button", name="Abmelden").click()
        await page.wait_for_url(f"{app.base_url}/ui/login")
        await page.goto(f"{app.base_url}/ui/")
        assert page.url.endswith("/ui/login")
        assert blocked == []  # the page fetched nothing from anywhere else
        await context.close()


async def test_tenant_key_in_the_browser_sees_only_its_tenant(
    browser: Any, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_app(sqlite_url, tmp_path / "config") as app:
        page = await browser.new_page()
        page.set_default_timeout(10_000)
        await page.goto(f"{app.base_url}/ui/login")
        await page.get_by_label("API-Schlüssel").fill(token("town-b-staff"))
        await page.get_by_role("button", name="Anmelden").click()
        await page.wait_for_url(f"{app.base_url}/ui/")

        await show_period(page, "2026-10-01", "2026-10-31")

        assert await page.locator("#kpi-received .value").inner_text() == "4"
        assert await page.locator("input[name=tenant]").count() == 0
        text = await page.locator("main").inner_text()
        assert "Gemeinde B" in text
        assert "Stadt A" not in text
        response = await page.goto(
            f"{app.base_url}/ui/?from=2026-10-01&to=2026-10-31&tenant=town-a"
        )
        assert response is not None
        assert response.status == 403
        await page.close()
