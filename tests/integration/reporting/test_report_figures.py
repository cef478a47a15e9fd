"""The report's figures against a hand-built data set, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.reporting import Period, build_report
from ozgbridge.reporting.build import UnknownTenantError
from ozgbridge.reporting.model import Report, TenantServiceRow
from tests.integration.reporting.support import (
    GEWERBE,
    HUND,
    KFZ,
    OCTOBER,
    PARKEN,
    UNKNOWN,
    App,
    deployment,
    seed,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def by_pair(report: Report) -> dict[tuple[str, str], TenantServiceRow]:
    return {(r.tenant, r.leika_key): r for r in report.tenant_services}


def figures(row: TenantServiceRow) -> tuple[object, ...]:
    return (
        row.received,
        row.delivered,
        row.dead,
        row.pending,
        row.latency_median_s,
        row.latency_p95_s,
        row.attempts_per_delivered,
        row.channel,
        row.maturity_model,
        row.maturity_level,
    )


async def test_tenant_service_figures(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW)

    rows = by_pair(report)
    # The Kreis first, then its towns by name (Gemeinde B before Stadt A).
    assert list(rows) == [
        ("kreis", KFZ),
        ("kreis", HUND),
        ("kreis", UNKNOWN),
        ("town-b", GEWERBE),
        ("town-a", GEWERBE),
        ("town-a", HUND),
        ("town-a", PARKEN),
    ]
    assert {r.kreis for r in report.tenant_services} == {"Kreis Beispiel"}
    assert rows[("town-a", GEWERBE)].tenant_name == "Stadt A"
    assert rows[("town-a", GEWERBE)].ozg_leistung == "Unternehmensanmeldung und -genehmigung"
    assert (rows[("kreis", HUND)].route_id, rows[("town-a", HUND)].route_id) == ("rest", "hund")
    # received, delivered, dead, pending, median, p95, attempts/delivered, channel, maturity
    assert figures(rows[("town-a", GEWERBE)]) == (5, 4, 1, 0, 25.0, 38.5, 1.75, "http", "2.0", 3)
    assert figures(rows[("town-a", HUND)]) == (2, 1, 0, 1, 60.0, 60.0, 1.0, "filedrop", "1.1", 2)
    assert figures(rows[("town-b", GEWERBE)]) == (4, 3, 0, 1, 5.0, 90.5, 1.0, "filedrop", "2.0", 1)
    assert figures(rows[("kreis", KFZ)]) == (3, 2, 1, 0, 2.0, 2.45, 1.5, "filedrop", "1.1", 3)
    assert figures(rows[("kreis", HUND)]) == (1, 1, 0, 0, 7.0, 7.0, 1.0, "filedrop", None, None)
    assert figures(rows[("kreis", UNKNOWN)]) == (
        1,
        0,
        0,
        1,
        None,
        None,
        None,
        "filedrop",
        None,
        None,
    )
    # Routed but unused in October: listed with zeros, not left out.
    assert figures(rows[("town-a", PARKEN)]) == (0, 0, 0, 0, None, None, None, "http", "2.0", 2)
    assert rows[("town-a", GEWERBE)].service_name == "Gewerbe Anmeldung"
    assert rows[("town-a", GEWERBE)].ozg_id == "10294"
    assert rows[("kreis", UNKNOWN)].service_name == UNKNOWN  # not catalogued: named by its key
    assert rows[("kreis", UNKNOWN)].ozg_id is None

    totals = report.totals
    assert (totals.received, totals.delivered, totals.dead, totals.pending) == (16, 11, 2, 3)
    # Offered: all five. Online: not Bewohnerparken (town-a's route had no traffic and no route
    # test). Area-wide: Kfz, Hundesteuer and the uncatalogued key through the Kreis's catch-all
    # route; not Gewerbe (town-b's Reifegrad 2.0 · 1 is below the online threshold).
    assert (totals.services_offered, totals.services_online, totals.services_area_wide) == (5, 4, 3)
    # Within an hour of receipt: 4/5 + 1/2 + 3/4 + 2/3 + 1/2 (catch-all: Hund 7 s, key pending).
    assert totals.availability == pytest.approx(11 / 16)
    assert totals.refusals == 6  # 3 + 2 + 1 in October


async def test_usage_volumes_and_trend(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)
    config = deployment(tmp_path)

    october = await build_report(engine, config, OCTOBER)
    autumn = await build_report(engine, config, Period(date(2026, 9, 1), date(2026, 11, 30)))

    usage = {(u.tenant, u.leika_key): u for u in october.usage}
    assert [u.tenant for u in october.usage][:3] == ["kreis", "kreis", "kreis"]
    assert usage[("town-a", GEWERBE)].ozg_id == "10294"
    # 5 × 100 bytes form data + 4 × 1000 + 500 attachments; delivered: 4 × (100 + 1000)
    town_a = usage[("town-a", GEWERBE)]
    assert (town_a.applications, town_a.delivered) == (5, 4)
    assert (town_a.volume_bytes, town_a.delivered_volume_bytes) == (5000, 4400)
    town_b = usage[("town-b", GEWERBE)]
    assert (town_b.volume_bytes, town_b.delivered_volume_bytes) == (1000, 750)
    # + town-a Hund 200/100, Kreis Kfz 300/200, Kreis Hund 100/100, uncatalogued key 100/0
    assert (october.totals.volume_bytes, october.totals.delivered_volume_bytes) == (6700, 5550)
    trend = {(t.month, t.leika_key): (t.received, t.delivered, t.dead) for t in autumn.trend}
    assert {t.service_name for t in autumn.trend if t.leika_key == KFZ} == {
        "Kraftfahrzeug Zulassung"
    }
    assert trend[("2026-09", GEWERBE)] == (1, 1, 0)
    assert trend[("2026-10", GEWERBE)] == (9, 7, 1)
    assert trend[("2026-11", GEWERBE)] == (1, 1, 0)
    assert trend[("2026-10", KFZ)] == (3, 2, 1)
    assert {month for month, _ in trend} == {"2026-09", "2026-10", "2026-11"}
    assert autumn.months() == ["2026-09", "2026-10", "2026-11"]


async def test_unknown_tenant_is_refused(engine: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(UnknownTenantError, match="no-such-town"):
        await build_report(engine, deployment(tmp_path), OCTOBER, ["town-a", "no-such-town"])


def percentile_cont(values: list[float], p: float) -> float:
    """PostgreSQL's definition, for checking both engines against it."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    lower = int(h)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (h - lower) * (ordered[upper] - ordered[lower])


async def test_percentiles_match_percentile_cont(engine: AsyncEngine, tmp_path: Path) -> None:
    rng = random.Random(20261001)
    latencies = {
        (tenant, key): [round(rng.uniform(0.5, 3600), 3) for _ in range(rng.randint(1, 40))]
        for tenant in ("town-a", "town-b", "kreis")
        for key in (GEWERBE, HUND)
    }
    start = datetime(2026, 10, 1, tzinfo=UTC)
    await seed(
        engine,
        [
            App(tenant, key, start + timedelta(minutes=i), "delivered", latency)
            for (tenant, key), values in latencies.items()
            for i, latency in enumerate(values)
        ],
    )

    report = await build_report(engine, deployment(tmp_path), OCTOBER)

    rows = by_pair(report)
    for pair, values in latencies.items():
        row = rows[pair]
        assert row.delivered == len(values)
        assert row.latency_median_s == pytest.approx(percentile_cont(values, 0.5), abs=2e-3)
        assert row.latency_p95_s == pytest.approx(percentile_cont(values, 0.95), abs=2e-3)
