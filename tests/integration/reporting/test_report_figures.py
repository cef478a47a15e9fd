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

    report = await build_report(engine, deployment(tmp_path), OCTOBER)

    rows = by_pair(report)
    assert list(rows) == [
        ("kreis", KFZ),
        ("kreis", HUND),
        ("kreis", UNKNOWN),
        ("town-a", GEWERBE),
        ("town-a", HUND),
        ("town-a", PARKEN),
        ("town-b", GEWERBE),
    ]
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
    assert (totals.services_online, totals.services_area_wide) == (5, 4)


async def test_coverage_and_area_wide(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)

    report = await build_report(engine, deployment(tmp_path), OCTOBER)

    online = {(c.leika_key, c.tenant): (c.online_status, c.served_by) for c in report.coverage}
    cells = {(c.leika_key, c.tenant): c for c in report.coverage}
    # Gewerbe: both towns route it, so the Kreis's area (its towns') is covered too, although its
    # own catch-all took no Gewerbe application in October; maturity: the lower of the towns'.
    assert online[(GEWERBE, "town-a")] == ("online", "town-a")
    assert online[(GEWERBE, "kreis")] == ("online", "members")
    assert (cells[(GEWERBE, "kreis")].maturity_model, cells[(GEWERBE, "kreis")].maturity_level) == (
        "2.0",
        1,
    )
    # Bewohnerparken: only town-a; not town-b (the Kreis's catch-all saw none), so not the Kreis.
    assert online[(PARKEN, "town-a")] == ("online", "town-a")
    assert online[(PARKEN, "town-b")] == ("nicht_online", None)
    assert online[(PARKEN, "kreis")] == ("nicht_online", None)
    # Kfz: delegated to the Kreis for every town.
    assert online[(KFZ, "town-b")] == ("online", "kreis")
    # Hundesteuer: town-b has no route, but the Kreis's catch-all received one in October.
    assert online[(HUND, "town-b")] == ("online", "kreis")
    services = {s.leika_key: s for s in report.services}
    assert (services[PARKEN].tenants_online, services[PARKEN].tenants_in_scope) == (1, 3)
    assert services[PARKEN].art_flaechendeckung == "teilweise"
    assert services[GEWERBE].art_flaechendeckung == "flaechendeckend"
    assert services[KFZ].art_flaechendeckung == "flaechendeckend"
    assert services[HUND].art_flaechendeckung == "flaechendeckend"
    assert (services[GEWERBE].received, services[GEWERBE].delivered) == (9, 7)
    assert (services[GEWERBE].dead, services[GEWERBE].pending) == (1, 1)
    for cell in report.coverage:  # the column repeats the service's verdict on every row
        assert cell.art_flaechendeckung == services[cell.leika_key].art_flaechendeckung
    kfz_town_a = next(c for c in report.coverage if (c.leika_key, c.tenant) == (KFZ, "town-a"))
    assert (kfz_town_a.ars, kfz_town_a.ozgid) == ("053700004004", "10439")
    assert (kfz_town_a.maturity_model, kfz_town_a.maturity_level) == ("1.1", 3)


async def test_area_wide_exactly_when_every_tenant_in_scope_is_online(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    config = deployment(tmp_path)

    towns = await build_report(engine, config, OCTOBER, ["town-a", "town-b"])
    november = await build_report(engine, config, Period(date(2026, 11, 1), date(2026, 11, 30)))

    art = {s.leika_key: s.art_flaechendeckung for s in towns.services}
    assert art[GEWERBE] == "flaechendeckend"
    assert art[PARKEN] == "teilweise"
    # The Kreis is out of scope, but its catch-all's October Hundesteuer still counts for town-b.
    town_b_hund = next(c for c in towns.coverage if (c.leika_key, c.tenant) == (HUND, "town-b"))
    assert (town_b_hund.online_status, town_b_hund.served_by) == ("online", "kreis")
    assert {r.tenant for r in towns.tenant_services} == {"town-a", "town-b"}
    assert towns.totals.received == 11
    # No Hundesteuer reached the Kreis's catch-all in November: not online for town-b any more,
    # and so not for the Kreis's area either.
    cells = {(c.leika_key, c.tenant): c.online_status for c in november.coverage}
    assert cells[(HUND, "town-b")] == "nicht_online"
    assert cells[(HUND, "kreis")] == "nicht_online"
    assert cells[(HUND, "town-a")] == "online"
    assert {s.leika_key: s.art_flaechendeckung for s in november.services}[HUND] == "teilweise"
    for report in (towns, november):
        for service in report.services:
            online = sum(
                c.online_status == "online"
                for c in report.coverage
                if c.leika_key == service.leika_key
            )
            assert service.tenants_online == online
            assert service.tenants_in_scope == len(report.tenants)
            assert (service.art_flaechendeckung == "flaechendeckend") == (
                online == service.tenants_in_scope
            )


async def test_usage_volumes_and_trend(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)
    config = deployment(tmp_path)

    october = await build_report(engine, config, OCTOBER)
    autumn = await build_report(engine, config, Period(date(2026, 9, 1), date(2026, 11, 30)))

    usage = {(u.tenant, u.leika_key): u for u in october.usage}
    # 5 × 100 bytes form data + 4 × 1000 + 500 attachments; delivered: 4 × (100 + 1000)
    town_a = usage[("town-a", GEWERBE)]
    assert (town_a.applications, town_a.delivered) == (5, 4)
    assert (town_a.volume_bytes, town_a.delivered_volume_bytes) == (5000, 4400)
    town_b = usage[("town-b", GEWERBE)]
    assert (town_b.volume_bytes, town_b.delivered_volume_bytes) == (1000, 750)
    # + town-a Hund 200/100, Kreis Kfz 300/200, Kreis Hund 100/100, uncatalogued key 100/0
    assert (october.totals.volume_bytes, october.totals.delivered_volume_bytes) == (6700, 5550)
    trend = {(t.month, t.leika_key): (t.received, t.delivered, t.dead) for t in autumn.trend}
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
