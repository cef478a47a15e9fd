"""The dashboard: sign-in, the page a coordinator sees, tenant scoping, downloads, sign-out."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import openpyxl
from aiohttp import ClientResponse

from ozgbridge.ui.sessions import COOKIE
from tests.integration.reporting.support import CONTENT_MARKER, Running, running_app, token

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


async def sign_in(ui: Running, key_id: str, **headers: str) -> ClientResponse:
    return await ui.client.post(
        "/ui/login", data={"token": token(key_id)}, allow_redirects=False, headers=headers
    )


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None, "the page has no sign-out form"
    return match.group(1)


async def test_signed_out_visitors_go_to_the_sign_in_page(ui: Running) -> None:
    dashboard = await ui.client.get("/ui/", allow_redirects=False)
    download = await ui.client.get("/ui/download", allow_redirects=False)
    form = await ui.client.get("/ui/login")

    assert dashboard.status == 303
    assert dashboard.headers["Location"] == "/ui/login"
    assert download.status == 303
    assert form.status == 200
    assert 'type="password"' in await form.text()
    assert '<label for="token">' in await form.text()


async def test_sign_in_sets_a_strict_http_only_cookie(ui: Running) -> None:
    response = await sign_in(ui, "coordinator")

    assert response.status == 303
    assert response.headers["Location"] == "/ui/"
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/ui"
    assert not cookie["secure"]
    assert token("coordinator") not in cookie.value


async def test_cookie_is_secure_when_configured(sqlite_url: str, tmp_path: Path) -> None:
    async with running_app(sqlite_url, tmp_path / "config", ui_cookie_secure=True) as ui:
        response = await sign_in(ui, "coordinator")

    assert response.cookies[COOKIE]["secure"] is True


async def test_unknown_and_portal_keys_cannot_sign_in(ui: Running) -> None:
    unknown = await ui.client.post("/ui/login", data={"token": "nope"}, allow_redirects=False)
    portal = await sign_in(ui, "portal")

    assert unknown.status == 401
    assert "Unbekannter API-Schlüssel" in await unknown.text()
    assert portal.status == 403
    assert COOKIE not in unknown.cookies
    assert COOKIE not in portal.cookies


async def test_sign_in_from_another_site_is_refused(ui: Running) -> None:
    response = await sign_in(ui, "coordinator", Origin="https://evil.example")

    assert response.status == 403
    assert COOKIE not in response.cookies


async def test_coordinator_sees_figures_and_charts(ui: Running) -> None:
    await sign_in(ui, "coordinator")

    response = await ui.client.get("/ui/", params=OCTOBER)

    assert response.status == 200
    page = await response.text()
    assert re.search(r'id="kpi-received"><span class="value">16</span>', page)
    assert re.search(r'id="kpi-dead"><span class="value">2</span>', page)
    for chart in ("chart-volume", "chart-coverage", "chart-health"):
        assert f'<figure class="chart" id="{chart}"><svg' in page
    assert "38,5 s" in page  # town-a Gewerbe p95
    assert "Stadt A" in page
    assert "Gemeinde B" in page
    assert CONTENT_MARKER not in page


async def test_pages_fetch_nothing_and_run_no_scripts(ui: Running) -> None:
    await sign_in(ui, "coordinator")

    response = await ui.client.get("/ui/", params=OCTOBER)

    page = await response.text()
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert response.headers["Cache-Control"] == "no-store"


async def test_tenant_key_sees_only_its_own_figures(ui: Running) -> None:
    await sign_in(ui, "town-b-staff")

    own = await ui.client.get("/ui/", params=OCTOBER)
    other = await ui.client.get("/ui/", params={**OCTOBER, "tenant": "town-a"})
    other_file = await ui.client.get(
        "/ui/download", params={**OCTOBER, "tenant": "town-a", "format": "csv"}
    )
    own_file = await ui.client.get("/ui/download", params={**OCTOBER, "format": "xlsx"})

    page = await own.text()
    assert re.search(r'id="kpi-received"><span class="value">4</span>', page)
    assert "Gemeinde B" in page
    assert "Stadt A" not in page
    assert "Kreis Beispiel" not in page
    assert other.status == 403
    assert "Stadt A" not in await other.text()
    assert other_file.status == 403
    workbook = openpyxl.load_workbook(io.BytesIO(await own_file.read()))
    tenants = {row[0] for row in workbook["tenant-services"].iter_rows(min_row=2, values_only=True)}
    assert tenants == {"town-b"}


async def test_download_xlsx_and_csv(ui: Running) -> None:
    await sign_in(ui, "coordinator")

    xlsx = await ui.client.get("/ui/download", params={**OCTOBER, "format": "xlsx"})
    csv = await ui.client.get("/ui/download", params={**OCTOBER, "format": "csv", "view": "usage"})

    assert xlsx.headers["Content-Disposition"] == (
        'attachment; filename="ozg-report_2026-10-01_2026-10-31.xlsx"'
    )
    summary = openpyxl.load_workbook(io.BytesIO(await xlsx.read()))["summary"]
    assert {r[0]: r[1] for r in summary.iter_rows(min_row=2, values_only=True)}["received"] == 16
    assert (await csv.text()).startswith("tenant,tenant_name,leika_key,service_name,applications")


async def test_sign_out_needs_the_csrf_token(ui: Running) -> None:
    await sign_in(ui, "coordinator")
    page = await (await ui.client.get("/ui/")).text()

    forged = await ui.client.post("/ui/logout", data={"csrf": "guess"}, allow_redirects=False)
    still_in = await ui.client.get("/ui/", allow_redirects=False)
    done = await ui.client.post("/ui/logout", data={"csrf": csrf_of(page)}, allow_redirects=False)
    after = await ui.client.get("/ui/", allow_redirects=False)

    assert forged.status == 403
    assert still_in.status == 200
    assert done.status == 303
    assert done.headers["Location"] == "/ui/login"
    assert after.status == 303


async def test_tampered_cookies_are_refused(ui: Running) -> None:
    response = await sign_in(ui, "town-b-staff")
    payload, signature = response.cookies[COOKIE].value.split(".")
    # The town's signature under a payload naming the coordinator: must not become the coordinator.
    forged_payload = base64.urlsafe_b64encode(b'{"k":"coordinator","e":9999999999}').decode()
    ui.client.session.cookie_jar.clear()

    forged = await ui.client.get(
        "/ui/", headers={"Cookie": f"{COOKIE}={forged_payload}.{signature}"}, allow_redirects=False
    )
    truncated = await ui.client.get(
        "/ui/", headers={"Cookie": f"{COOKIE}={payload}.{signature[:-2]}"}, allow_redirects=False
    )

    assert forged.status == 303
    assert truncated.status == 303
