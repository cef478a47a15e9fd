"""Nachfrage ohne Angebot: refusals counted at intake (no content) and shown in the report."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from ozgbridge.api.state import REPOSITORY
from ozgbridge.store.demand import record_refusal
from ozgbridge.store.tables import applications, unmet_demand
from tests.integration.reporting.support import (
    PARKEN,
    TOWN_A_ARS,
    TOWN_B_ARS,
    WOHNGELD,
    Running,
    bearer,
)

DORTMUND_ARS = "059130000000"  # served by no tenant of this deployment
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


def application(leika_key: str, ars: str) -> dict[str, Any]:
    return {
        "service": {"leikaKey": leika_key, "name": "Wohngeld"},
        "region": {"ars": ars},
        "data": {"mimeType": "application/json", "content": {"name": "Erika Mustermann"}},
    }


async def count_rows(running: Running, table: Any) -> int:
    async with running.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_refusals_are_counted_without_content_and_reported(reporting_api: Running) -> None:
    client = reporting_api.client
    stored_before = await count_rows(reporting_api, applications)

    answers = [
        await client.post("/v1/applications", json=application(key, ars), headers=bearer("portal"))
        for key, ars in [(WOHNGELD, DORTMUND_ARS), (WOHNGELD, DORTMUND_ARS), (PARKEN, DORTMUND_ARS)]
    ]

    for answer in answers:
        assert answer.status == 422
        assert "no authority is responsible" in (await answer.json())["detail"]
    assert await count_rows(reporting_api, applications) == stored_before
    month = datetime.now(UTC).strftime("%Y-%m")
    async with reporting_api.engine.connect() as conn:
        rows = (
            await conn.execute(select(unmet_demand).where(unmet_demand.c.ars == DORTMUND_ARS))
        ).all()
    assert {(r.month, r.leika_key, r.refusals) for r in rows} == {
        (month, WOHNGELD, 2),
        (month, PARKEN, 1),
    }
    assert set(unmet_demand.c.keys()) == {"month", "leika_key", "ars", "refusals", "last_at"}

    report = await (
        await client.get("/v1/reports/ozg", headers=bearer("coordinator"))  # this month
    ).json()

    dortmund = [r for r in report["unmet_demand"] if r["ars"] == DORTMUND_ARS]
    assert dortmund[0] | {"months": 1} == dortmund[0]
    assert [(r["leika_key"], r["refusals"]) for r in dortmund] == [(WOHNGELD, 2), (PARKEN, 1)]
    assert dortmund[0]["service_name"] == "Wohngeld"
    assert dortmund[0]["ozg_leistung"] == "Wohngeld"
    assert dortmund[0]["region_name"] == "außerhalb der Konfiguration"
    assert dortmund[0]["routed_now"] is False
    assert report["totals"]["refusals"] >= 3


async def test_a_failed_count_still_refuses_cleanly(
    reporting_api_sqlite: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = reporting_api_sqlite.client.server.app[REPOSITORY]

    async def broken(leika_key: str, ars: str) -> bool:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(repository, "record_unmet_demand", broken)

    answer = await reporting_api_sqlite.client.post(
        "/v1/applications", json=application(WOHNGELD, DORTMUND_ARS), headers=bearer("portal")
    )

    assert answer.status == 422
    assert answer.content_type == "application/problem+json"


async def test_each_key_sees_the_demand_of_its_own_regions(reporting_api_sqlite: Running) -> None:
    client = reporting_api_sqlite.client

    async def demand(key_id: str, **params: str) -> list[tuple[str, str, int]]:
        response = await client.get(
            "/v1/reports/ozg", params={**OCTOBER, **params}, headers=bearer(key_id)
        )
        assert response.status == 200
        rows = (await response.json())["unmet_demand"]
        return [(r["leika_key"], r["ars"], r["refusals"]) for r in rows]

    assert await demand("coordinator") == [
        (PARKEN, TOWN_B_ARS, 3),
        (WOHNGELD, TOWN_A_ARS, 2),
        (WOHNGELD, "051110000000", 1),
    ]
    assert await demand("coordinator", tenant="town-a") == [(WOHNGELD, TOWN_A_ARS, 2)]
    assert await demand("town-b-staff") == [(PARKEN, TOWN_B_ARS, 3)]
    response = await client.get(
        "/v1/reports/ozg",
        params={**OCTOBER, "format": "csv", "view": "unmet-demand"},
        headers=bearer("coordinator"),
    )
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert (
        rows[0] | {"service_name": "Bewohnerparkausweis Erteilung", "region_name": "Gemeinde B"}
        == rows[0]
    )
    assert rows[0]["kreis"] == "Kreis Beispiel"


async def test_only_well_formed_keys_and_regions_are_counted(reporting_api: Running) -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)

    counted = await record_refusal(reporting_api.engine, WOHNGELD, DORTMUND_ARS, at)
    refused = [
        await record_refusal(reporting_api.engine, key, ars, at)
        for key, ars in [("9910", DORTMUND_ARS), (WOHNGELD, "05913"), ("x" * 14, DORTMUND_ARS)]
    ]

    assert counted is True
    assert refused == [False, False, False]
