"""GET /v1/reports/ozg over a real socket: roles, scoping, formats, and no application content."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
from sqlalchemy import select

from ozgbridge.api.openapi import build_document
from ozgbridge.reporting.federal import AREA_VALUES, EXPORT_FIELDS
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
    # The Kreis first, then its towns by name, each with its place.
    assert [(t["id"], t["kreis"], t["depth"]) for t in document["tenants"]] == [
        ("kreis", "Kreis Beispiel", 0),
        ("town-b", "Kreis Beispiel", 1),
        ("town-a", "Kreis Beispiel", 1),
    ]
    assert {
        "coverage",
        "services",
        "usage",
        "trend",
        "tenant_health",
        "availability",
        "unmet_demand",
        "previous",
    } <= set(document)
    assert document["totals"]["refusals"] == 6
    assert document["previous"]["period"] == {"from": "2026-09-01", "to": "2026-09-30"}


async def test_default_period_is_the_current_month_to_date(
    reporting_api_sqlite: Running,
) -> None:
    response = await reporting_api_sqlite.client.get("/v1/reports/ozg", headers=bearer("operator"))

    document = await response.json()
    today = datetime.now(UTC).date()
    assert document["period"] == {"from": str(today.replace(day=1)), "to": str(today)}
    # Δ: compared with the same days of the month before.
    assert document["previous"]["period"]["to"] < document["period"]["from"]
    assert set(document["previous"]["headline"]) >= {"received", "services_online", "refusals"}


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

    reader = csv.DictReader(io.StringIO(await response.text()))
    rows = list(reader)
    assert tuple(reader.fieldnames or ())[: len(EXPORT_FIELDS)] == EXPORT_FIELDS
    town_a = next(r for r in rows if (r["leika_key"], r["tenant"]) == (GEWERBE, "town-a"))
    assert town_a == town_a | {
        "leika_name": "Gewerbe Anmeldung",
        "ars": "053700004004",
        "ars_name": "Stadt A",
        "ars_federal_state": "05",
        "bundesland": "Nordrhein-Westfalen",
        "ozgid": "10294",
        "ozg_bezeichnung": "Unternehmensanmeldung und -genehmigung",
        "url": "",
        "online_status": "ok",
        "aktiv": "ja",
        "art_flaechendeckung": "in mind. einer Kommune verfügbar",
        "reason": "zugestellt",
    }
    town_b = next(r for r in rows if (r["leika_key"], r["tenant"]) == (GEWERBE, "town-b"))
    assert (town_b["online_status"], town_b["art_flaechendeckung"]) == ("nicht ok", "")


async def test_xlsx_is_german_with_names_beside_ids_and_the_federal_sheet(
    reporting_api_sqlite: Running,
) -> None:
    response = await reporting_api_sqlite.client.get(
        "/v1/reports/ozg",
        params={"from": "2026-09", "to": "2026-11", "format": "xlsx"},
        headers=bearer("coordinator"),
    )

    assert response.status == 200
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    workbook = openpyxl.load_workbook(io.BytesIO(await response.read()))
    assert workbook.sheetnames == [
        "Übersicht",
        "Leistungen je Kommune",
        "Zustellung je Kommune",
        "Leistungen",
        "Abdeckung (Bundesformat)",
        "Verfügbarkeit je Route",
        "Nachfrage ohne Angebot",
        "Nutzung (Kostenverteilung)",
        "Verlauf je Monat",
        "Bearbeitung",
    ]
    for sheet in workbook:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref == sheet.dimensions, sheet.title
        assert sheet["A1"].font.bold, sheet.title
        header = [c.value for c in sheet[1]]
        if sheet.title != "Abdeckung (Bundesformat)":
            assert not any("_" in str(h) for h in header), (sheet.title, header)
    overview = {r[0]: r[1:] for r in workbook["Übersicht"].iter_rows(min_row=2, values_only=True)}
    assert overview["Zeitraum von"][0] == datetime(2026, 9, 1)
    assert overview["eingegangen"][0] == 18
    assert overview["Vorzeitraum"][0] == "01.06.2026 – 31.08.2026"
    assert overview["Nachfrage ohne Angebot (abgelehnte Anträge)"][0] == 12

    def table(title: str) -> list[dict[str, object]]:
        rows = list(workbook[title].iter_rows(values_only=True))
        return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]

    by_tenant = table("Leistungen je Kommune")
    town_a = next(
        r for r in by_tenant if (r["Kommune (ID)"], r["LeiKa-Schlüssel"]) == ("town-a", GEWERBE)
    )
    # Names beside every id: municipality, service, OZG-Leistung.
    assert (
        town_a
        | {
            "Kreis": "Kreis Beispiel",
            "Kommune": "Stadt A",
            "Leistung": "Gewerbe Anmeldung",
            "OZG-ID": "10294",
            "OZG-Leistung": "Unternehmensanmeldung und -genehmigung",
            "Kanal": "http",
            "Reifegradmodell": "2.0",
            "Reifegrad": 3,
            # September to November: latencies 1, 1, 10, 20, 30, 40 s → median 15, p95 37.5
            "Zustelldauer Median (s)": 15.0,
            "Zustelldauer p95 (s)": 37.5,
        }
        == town_a
    )
    assert all(isinstance(r["eingegangen"], int) for r in by_tenant)
    assert [r["Kommune"] for r in by_tenant][:3] == ["Kreis Beispiel"] * 3  # the Kreis first

    federal_sheet = workbook["Abdeckung (Bundesformat)"]
    header = [c.value for c in federal_sheet[1]]
    assert tuple(header[: len(EXPORT_FIELDS)]) == EXPORT_FIELDS
    assert "Grund" in header  # ozgbridge's own columns after the federal ones, in German
    coverage = table("Abdeckung (Bundesformat)")
    cell = next(r for r in coverage if (r["leika_key"], r["ars"]) == (GEWERBE, "053700004004"))
    assert (
        cell
        | {
            "leika_name": "Gewerbe Anmeldung",
            "ars_name": "Stadt A",
            "bundesland": "Nordrhein-Westfalen",
            "ozgid": 10294,
            "ozg_bezeichnung": "Unternehmensanmeldung und -genehmigung",
            "online_status": "ok",
            "aktiv": "ja",
            "art_flaechendeckung": "in mind. einer Kommune verfügbar",
            "Grund": "online: im Zeitraum zugestellt",
            "angeboten": "ja",
        }
        == cell
    )
    assert {r["online_status"] for r in coverage} == {"ok", "nicht ok"}
    assert {r["art_flaechendeckung"] for r in coverage} <= {*AREA_VALUES, None}

    demand = table("Nachfrage ohne Angebot")
    assert (
        demand[0]
        | {
            "Leistung": "Bewohnerparkausweis Erteilung",
            "Region": "Gemeinde B",
            "abgelehnte Anträge": 9,
            "Monate mit Ablehnungen": 3,
            "letzter Monat": datetime(2026, 11, 1),
        }
        == demand[0]
    )
    assert workbook["Nachfrage ohne Angebot"]["K2"].number_format == "MM.YYYY"
    routes = table("Verfügbarkeit je Route")
    gewerbe = next(r for r in routes if (r["Kommune (ID)"], r["Route"]) == ("town-a", "gewerbe"))
    assert gewerbe["Befund"] == "verfügbar"
    trend = workbook["Verlauf je Monat"]
    months = [row[0] for row in trend.iter_rows(min_row=2, values_only=True)]
    assert {datetime(2026, 9, 1), datetime(2026, 10, 1), datetime(2026, 11, 1)} == set(months)
    assert trend["A2"].number_format == "MM.YYYY"


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
