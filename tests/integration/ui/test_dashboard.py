"""The dashboard: sign-in, the page a coordinator sees, tenant scoping, downloads, sign-out."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import UTC, datetime
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
    # The Kreis is named as the town's Kreis (and as who serves Kfz there), never with figures
    # of its own: no row of any table, no row of any chart is the Kreis's.
    assert '<th scope="row">Kreis Beispiel</th>' not in page
    assert 'font-weight="bold">Kreis Beispiel</text>' not in page
    assert other.status == 403
    assert "Stadt A" not in await other.text()
    assert other_file.status == 403
    workbook = openpyxl.load_workbook(io.BytesIO(await own_file.read()))
    rows = workbook["Leistungen je Kommune"].iter_rows(min_row=2, values_only=True)
    assert {row[1] for row in rows} == {"town-b"}


async def test_download_xlsx_and_csv(ui: Running) -> None:
    await sign_in(ui, "coordinator")

    xlsx = await ui.client.get("/ui/download", params={**OCTOBER, "format": "xlsx"})
    csv = await ui.client.get("/ui/download", params={**OCTOBER, "format": "csv", "view": "usage"})

    assert xlsx.headers["Content-Disposition"] == (
        'attachment; filename="ozg-report_2026-10-01_2026-10-31.xlsx"'
    )
    overview = openpyxl.load_workbook(io.BytesIO(await xlsx.read()))["Übersicht"]
    assert {r[0]: r[1] for r in overview.iter_rows(min_row=2, values_only=True)}[
        "eingegangen"
    ] == 16
    assert (await csv.text()).startswith("kreis,tenant,tenant_name,leika_key,service_name,ozg_id")


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


async def test_opens_on_this_month_with_quick_links(ui: Running) -> None:
    await sign_in(ui, "coordinator")

    page = await (await ui.client.get("/ui/")).text()

    today = datetime.now(UTC).date()
    assert f'value="{today.replace(day=1).isoformat()}"' in page
    assert f'value="{today.isoformat()}"' in page
    presets = page[page.index('<nav class="presets"') : page.index("</nav>")]
    links = re.findall(r'<a href="/ui/\?([^"]+)"[^>]*>([^<]+)</a>', presets)
    labels = {label: query.replace("&amp;", "&") for query, label in links}
    assert list(labels) == ["dieser Monat", "letzter Monat", "dieses Jahr", "letzte 12 Monate"]
    this_month = f"from={today.replace(day=1).isoformat()}&to={today.isoformat()}"
    assert labels["dieser Monat"] == this_month
    assert labels["dieses Jahr"] == f"from={today.year}-01-01&to={today.isoformat()}"
    assert re.search(r'aria-current="true" title="[^"]+">dieser Monat</a>', page)


async def test_german_figures_with_delta_demand_and_grouped_tenants(ui: Running) -> None:
    await sign_in(ui, "coordinator")

    page = await (await ui.client.get("/ui/", params=OCTOBER)).text()

    assert '<span class="delta">Δ +15</span>' in page  # received: 16 in October, 1 in September
    assert "Vorzeitraum 01.09.2026 – 30.09.2026" in page
    assert re.search(r'id="kpi-refusals"><span class="value">6</span>Nachfrage ohne Angebot', page)
    assert re.search(r'id="kpi-availability"><span class="value">68,8 %</span>', page)
    demand = page[page.index('id="table-demand"') :]
    assert demand.index("Bewohnerparkausweis Erteilung") < demand.index("Wohngeld")
    assert "außerhalb der Konfiguration" in demand
    # Kreis first, its towns after it; long tables say how many rows they hold.
    tenants = page[page.index('<fieldset class="kreis"><legend>Kreis Beispiel</legend>') :]
    assert tenants.index("Kreis Beispiel</label>") < tenants.index("Gemeinde B</label>")
    assert "<summary>Kommune × Leistung (7 Zeilen)</summary>" in page
    assert '<tr class="group"><th scope="rowgroup" colspan="13">Kreis Beispiel</th></tr>' in page
    # The maturity matrix says model and level in each cell.
    assert ">2.0 · 3</text>" in page
    assert ">1.1 · 3</text>" in page
    assert "Verfügbarkeit je Route (6 Zeilen)" in page


async def test_maturity_filter_by_model(ui: Running) -> None:
    await sign_in(ui, "coordinator")

    page = await (await ui.client.get("/ui/", params={**OCTOBER, "modell": "2.0"})).text()
    unknown = await (await ui.client.get("/ui/", params={**OCTOBER, "modell": "3.0"})).text()

    assert ">2.0 · 3</text>" in page
    assert ">1.1 · 3</text>" not in page
    assert "anderes Modell, ausgeblendet" in page
    assert 'modell=2.0" aria-current="true">Modell 2.0</a>' in page
    assert 'name="modell" value="2.0"' in page  # the period form keeps the filter
    assert "Reifegradmodell 3.0 unbekannt" in unknown
    assert ">1.1 · 3</text>" in unknown


async def test_downloads_and_print_view(ui: Running) -> None:
    await sign_in(ui, "town-b-staff")
    page = await (await ui.client.get("/ui/", params=OCTOBER)).text()

    printed = await ui.client.get("/ui/print", params=OCTOBER)
    other = await ui.client.get("/ui/print", params={**OCTOBER, "tenant": "town-a"})
    coverage = await ui.client.get(
        "/ui/download", params={**OCTOBER, "format": "csv", "view": "coverage"}
    )

    for view in ("coverage", "unmet-demand", "availability"):
        assert f'id="download-csv-{view}"' in page
    assert 'id="print-view" href="/ui/print?from=2026-10-01&amp;to=2026-10-31"' in page
    assert printed.status == 200
    assert "default-src 'none'" in printed.headers["Content-Security-Policy"]
    text = await printed.text()
    assert "OZG-Bericht · Kreis Beispiel" in text
    assert "Gemeinde B" in text
    assert "Stadt A" not in text
    assert "<script" not in text
    assert other.status == 403
    text = await coverage.text()
    assert text.startswith("leika_key,leika_name,ars,ars_name,ars_federal_state,bundesland")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    assert all(row["tenant"] == "town-b" for row in rows)


async def test_a_period_at_the_calendars_edge_is_a_notice_not_an_error(ui: Running) -> None:
    await sign_in(ui, "town-b-staff")
    for params in ({"from": "0001-01"}, {"from": "9999-12-01", "to": "9999-12-31"}):
        answer = await ui.client.get("/ui/", params=params)
        assert answer.status == 200
        assert "Zeitraum ungültig" in await answer.text()
