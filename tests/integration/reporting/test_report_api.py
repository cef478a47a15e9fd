"""GET /v1/reports/ozg over a real socket: roles, scoping, formats, and no application content."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from ozgbridge.api.openapi import build_document
from ozgbridge.reporting.model import VIEWS, columns
from ozgbridge.store.tables import applications
from tests.integration.reporting.support import (
    CONTENT_MARKER,
    GEWERBE,
    Running,
    bearer,
)

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


async def test_coordinator_gets_the_figures_as_json(reporting_api: Running) -> None:
    response = await reporting_api.client.get(
        "/v1/reports/ozg", params=OCTOBER, headers=bearer("coordinator")
    )

    assert response.status == 200
    assert response.content_type == "application/json"
    document = await response.json()
    assert document["period"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert document["totals"]["received"] == 16
    assert document["totals"]["delivered"] == 11
    row = next(
        r
        for r in document["tenant_services"]
        if (r["tenant"], r["leika_key"]) == ("town-a", GEWERBE)
    )
    assert (row["latency_median_s"], row["latency_p95_s"]) == (25.0, 38.5)
    assert [t["id"] for t in document["tenants"]] == ["kreis", "town-a", "town-b"]
    assert {"coverage", "services", "usage", "trend", "tenant_health"} <= set(document)


async def test_default_period_is_the_last_full_month(reporting_api_sqlite: Running) -> None:
    response = await reporting_api_sqlite.client.get("/v1/reports/ozg", headers=bearer("operator"))

    document = await response.json()
    last = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
    assert document["period"] == {"from": str(last.replace(day=1)), "to": str(last)}


@pytest.mark.parametrize("view", list(VIEWS))
async def test_csv_holds_one_view(reporting_api_sqlite: Running, view: str) -> None:
    response = await reporting_api_sqlite.client.get(
        "/v1/reports/ozg",
        params={**OCTOBER, "format": "csv", "view": view},
        headers=bearer("coordinator"),
    )

    assert response.status == 200
    assert response.content_type == "text/csv"
    assert f"_{view}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == columns(view)
    # this data set holds no status reports; test_processing_figures.py fills that view
    assert len(rows) > 1 if view != "processing" else rows == [columns(view)]


async def test_csv_coverage_has_the_federal_dashboard_columns(
    reporting_api_sqlite: Running,
) -> None:
    response = await reporting_api_sqlite.client.get(
        "/v1/reports/ozg",
        params={**OCTOBER, "format": "csv", "view": "coverage"},
        headers=bearer("coordinator"),
    )

    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert {"leika_key", "ars", "ozgid", "online_status", "art_flaechendeckung"} <= set(rows[0])
    town_a = next(r for r in rows if (r["leika_key"], r["tenant"]) == (GEWERBE, "town-a"))
    assert town_a == town_a | {
        "ars": "053700004004",
        "ozgid": "10294",
        "online_status": "online",
        "art_flaechendeckung": "flaechendeckend",
    }


async def test_xlsx_has_a_sheet_per_view_with_real_cells(reporting_api_sqlite: Running) -> None:
    response = await reporting_api_sqlite.client.get(
        "/v1/reports/ozg",
        params={"from": "2026-09", "to": "2026-11", "format": "xlsx"},
        headers=bearer("coordinator"),
    )

    assert response.status == 200
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    workbook = openpyxl.load_workbook(io.BytesIO(await response.read()))
    assert workbook.sheetnames == ["summary", *VIEWS]
    for name in workbook.sheetnames:
        sheet = workbook[name]
        assert sheet.freeze_panes == "A2", name
        assert sheet.auto_filter.ref == sheet.dimensions, name
        assert sheet["A1"].font.bold, name
    summary = {row[0]: row[1] for row in workbook["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["period_from"] == datetime(2026, 9, 1)
    assert summary["received"] == 18
    sheet = workbook["tenant-services"]
    header = [c.value for c in sheet[1]]
    received = header.index("received") + 1
    assert all(
        isinstance(sheet.cell(row=r, column=received).value, int)
        for r in range(2, sheet.max_row + 1)
    )
    town_a = next(
        r
        for r in sheet.iter_rows(min_row=2, values_only=True)
        if (r[0], r[header.index("leika_key")]) == ("town-a", GEWERBE)
    )
    # September to November: latencies 1, 1, 10, 20, 30, 40 s → median 15, p95 37.5
    assert town_a[header.index("latency_median_s")] == 15.0
    assert town_a[header.index("latency_p95_s")] == 37.5
    trend = workbook["trend"]
    months = [row[0] for row in trend.iter_rows(min_row=2, values_only=True)]
    assert {datetime(2026, 9, 1), datetime(2026, 10, 1), datetime(2026, 11, 1)} == set(months)
    assert trend["A2"].number_format == "yyyy-mm"


async def test_tenant_key_sees_its_own_tenant_only(reporting_api_sqlite: Running) -> None:
    client = reporting_api_sqlite.client

    own = await client.get("/v1/reports/ozg", params=OCTOBER, headers=bearer("town-b-staff"))
    explicit = await client.get(
        "/v1/reports/ozg", params={**OCTOBER, "tenant": "town-b"}, headers=bearer("town-b-staff")
    )
    other = await client.get(
        "/v1/reports/ozg", params={**OCTOBER, "tenant": "town-a"}, headers=bearer("town-b-staff")
    )
    mixed = await client.get(
        "/v1/reports/ozg",
        params={**OCTOBER, "tenant": "town-b,town-a"},
        headers=bearer("town-b-staff"),
    )
    csv_other = await client.get(
        "/v1/reports/ozg",
        params={**OCTOBER, "tenant": "kreis", "format": "csv"},
        headers=bearer("town-b-staff"),
    )

    document = await own.json()
    assert [t["id"] for t in document["tenants"]] == ["town-b"]
    assert {r["tenant"] for r in document["tenant_services"]} == {"town-b"}
    assert {r["tenant"] for r in document["usage"]} == {"town-b"}
    assert {r["tenant"] for r in document["coverage"]} == {"town-b"}
    assert document["totals"]["received"] == 4
    assert (await explicit.json())["tenant_services"] == document["tenant_services"]
    for refused in (other, mixed, csv_other):
        assert refused.status == 403
        assert refused.content_type == "application/problem+json"
        assert (await refused.json())["detail"] == "a tenant key sees only its own tenant (town-b)"


async def test_portal_and_anonymous_are_refused(reporting_api_sqlite: Running) -> None:
    client = reporting_api_sqlite.client

    portal = await client.get("/v1/reports/ozg", headers=bearer("portal"))
    anonymous = await client.get("/v1/reports/ozg")

    assert portal.status == 403
    assert anonymous.status == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-10-31", "to": "2026-10-01"}, "from"),
        ({"format": "pdf"}, "format"),
        ({"format": "csv", "view": "everything"}, "view"),
        ({"tenant": "atlantis"}, "tenant"),
    ],
)
async def test_bad_parameters_are_422_problems(
    reporting_api_sqlite: Running, params: dict[str, str], field: str
) -> None:
    response = await reporting_api_sqlite.client.get(
        "/v1/reports/ozg", params=params, headers=bearer("coordinator")
    )

    assert response.status == 422
    problem = await response.json()
    assert problem["errors"][0]["field"] == field


async def test_coordinator_never_sees_application_content(reporting_api_sqlite: Running) -> None:
    client = reporting_api_sqlite.client
    async with reporting_api_sqlite.engine.connect() as conn:
        application_id = (await conn.execute(select(applications.c.id).limit(1))).scalar_one()

    status = await client.get(f"/v1/applications/{application_id}", headers=bearer("coordinator"))
    bodies = [
        await (
            await client.get(
                "/v1/reports/ozg",
                params={"from": "2026-09", "to": "2026-11", "format": fmt, "view": view},
                headers=bearer("coordinator"),
            )
        ).read()
        for fmt, view in [("json", "usage"), ("xlsx", "usage")] + [("csv", view) for view in VIEWS]
    ]

    assert status.status == 403
    for body in bodies:
        assert CONTENT_MARKER.encode() not in body
    # XLSX is zipped: look inside the sheets, too.
    workbook = openpyxl.load_workbook(io.BytesIO(bodies[1]))
    for sheet in workbook:
        for row in sheet.iter_rows(values_only=True):
            assert not any(CONTENT_MARKER in str(value) for value in row)


def test_the_report_is_in_the_openapi_document() -> None:
    document = build_document()

    operation = document["paths"]["/v1/reports/ozg"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "from",
        "to",
        "tenant",
        "format",
        "view",
    }
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ReportDocument")
    assert "ReportDocument" in document["components"]["schemas"]
