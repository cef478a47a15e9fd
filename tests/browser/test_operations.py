"""An operator in a real browser: finds a dead delivery, replays it, cancels another, pauses,
resumes and tests a route — all through the dashboard's own forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ozgbridge.domain import DeliveryState
from tests.browser.conftest import ARTIFACTS
from tests.integration.api.ops_support import row, seed
from tests.integration.api.support import token
from tests.integration.ui.ops_support import ops_ui

pytestmark = pytest.mark.browser


async def test_operator_replays_cancels_and_pauses_in_chromium(
    browser: Any, sqlite_url: str, tmp_path: Path
) -> None:
    async with ops_ui(sqlite_url, tmp_path) as app:
        [dead] = await seed(app.engine, state=DeliveryState.DEAD)
        [pending] = await seed(app.engine, route="hundesteuer", leika_key="99102013002000")
        context = await browser.new_context(locale="de-DE")
        context.set_default_timeout(10_000)
        page = await context.new_page()
        elsewhere: list[str] = []
        page.on(
            "request",
            lambda r: elsewhere.append(r.url) if not r.url.startswith(app.base_url) else None,
        )

        await page.goto(f"{app.base_url}/ui/login")
        await page.get_by_label("API-Schlüssel").fill(token("operator"))
        await page.get_by_role("button", name="Anmelden").click()
        await page.wait_for_url(f"{app.base_url}/ui/")

        await page.get_by_role("link", name="Zustellungen").click()
        await page.wait_for_url(f"{app.base_url}/ui/deliveries")
        await page.get_by_label("Status").select_option("dead")
        await page.get_by_role("button", name="Anzeigen").click()
        await page.wait_for_load_state()
        dead_row = page.locator(f"#d-{dead}")
        assert "gescheitert" in await dead_row.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "deliveries.png"), full_page=True)

        await dead_row.get_by_role("button", name="Erneut zustellen").click()
        await page.wait_for_load_state()
        assert "erneut versucht" in await page.locator("main").inner_text()
        assert await page.locator(f"#d-{dead}").count() == 0  # no longer dead
        assert (await row(app.engine, dead)).state == "pending"

        await page.goto(f"{app.base_url}/ui/deliveries?state=pending&route=hundesteuer")
        pending_row = page.locator(f"#d-{pending}")
        await pending_row.get_by_placeholder("Grund").fill("Antrag zurückgezogen")
        await pending_row.get_by_role("button", name="Abbrechen").click()
        await page.wait_for_load_state()
        assert "abgebrochen" in await page.locator("main").inner_text()
        stored = await row(app.engine, pending)
        assert (stored.state, stored.cancel_reason) == ("cancelled", "Antrag zurückgezogen")

        await page.get_by_role("link", name="Routen").click()
        await page.wait_for_url(f"{app.base_url}/ui/routes")
        route = page.locator("#r-erkelenz-gewerbe")
        await route.get_by_role("button", name="Pausieren").click()
        await page.wait_for_load_state()
        assert "pausiert" in await page.locator("#r-erkelenz-gewerbe").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "routes.png"), full_page=True)
        await page.locator("#r-erkelenz-gewerbe").get_by_role("button", name="Fortsetzen").click()
        await page.wait_for_load_state()
        assert "aktiv" in await page.locator("#r-erkelenz-gewerbe").inner_text()
        await page.locator("#r-erkelenz-melde").get_by_role("button", name="Testen").click()
        await page.wait_for_load_state()
        assert "Test erkelenz/melde: erfolgreich" in await page.locator("main").inner_text()

        assert elsewhere == []
        await context.close()


async def test_coordinator_sees_no_operations_in_chromium(
    browser: Any, sqlite_url: str, tmp_path: Path
) -> None:
    async with ops_ui(sqlite_url, tmp_path) as app:
        page = await browser.new_page()
        page.set_default_timeout(10_000)
        await page.goto(f"{app.base_url}/ui/login")
        await page.get_by_label("API-Schlüssel").fill(token("coordinator"))
        await page.get_by_role("button", name="Anmelden").click()
        await page.wait_for_url(f"{app.base_url}/ui/")

        assert await page.get_by_role("link", name="Zustellungen").count() == 0
        response = await page.goto(f"{app.base_url}/ui/deliveries")
        assert response is not None
        assert response.status == 403
        await page.close()
