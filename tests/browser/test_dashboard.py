"""A coordinator in a real browser: signs in, reads the figures, changes the period, downloads."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.integration.reporting.support import CONTENT_MARKER, running_app, token

pytestmark = pytest.mark.browser


async def show_period(page: Any, first: str, last: str) -> None:
    await page.get_by_label("Von (Tag, UTC)").fill(first)
    await page.get_by_label("Bis einschließlich").fill(last)
    await page.get_by_role("button", name="Anzeigen").click()
    await page.wait_for_load_state()


async def test_coordinator_dashboard_in_chromium(
    browser: Any, sqlite_url: str, tmp_path: Path
) -> None:
    async with running_app(sqlite_url, tmp_path / "config") as app:
        context = await browser.new_context(accept_downloads=True, locale="de-DE")
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
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

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
        summary = dict(workbook["summary"].iter_rows(min_row=2, max_col=2, values_only=True))
        assert summary["received"] == 18
        assert CONTENT_MARKER not in await page.content()

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
