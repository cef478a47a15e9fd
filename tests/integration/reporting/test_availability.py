"""Availability per route and period, route tests and breaker time — on both engines.

Route tests and breaker transitions are written straight into the operations tables
(``route_checks``, ``route_transitions``) the way the route test and the breaker record them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.reporting import build_report
from ozgbridge.reporting.model import Report, RouteRow
from ozgbridge.store.tables import route_checks, route_transitions
from tests.integration.reporting.support import (
    GEWERBE,
    HUND,
    OCTOBER,
    PARKEN,
    App,
    deployment,
    oct_,
    seed,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def route(report: Report, tenant: str, route_id: str) -> RouteRow:
    return next(r for r in report.availability if (r.tenant, r.route_id) == (tenant, route_id))


async def operations_tables(engine: AsyncEngine, **rows: list[dict[str, Any]]) -> None:
    tables = {"route_checks": route_checks, "route_transitions": route_transitions}
    async with engine.begin() as conn:
        for name, values in rows.items():
            if values:
                await conn.execute(tables[name].insert(), values)


async def test_availability_per_route(engine: AsyncEngine, tmp_path: Path) -> None:
    now = datetime(2026, 10, 20, 12, tzinfo=UTC)
    await seed(
        engine,
        [
            App("town-a", GEWERBE, oct_(3), "delivered", 59 * 60),  # within the hour
            App("town-a", GEWERBE, oct_(4), "delivered", 2 * 3600),  # late
            App("town-a", GEWERBE, oct_(5), "dead", None, 10),
            App("town-a", GEWERBE, oct_(6), "pending", None, 3),  # old, still trying: late
            # Younger than an hour and under way: may yet make it, so not counted either way.
            App("town-a", GEWERBE, now - timedelta(minutes=10), "pending", None, 0),
            App("town-a", HUND, now - timedelta(minutes=5), "delivering", None, 1),
        ],
        demand=[],
    )

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=now)

    gewerbe = route(report, "town-a", "gewerbe")
    assert (gewerbe.deliveries, gewerbe.delivered_within_hour, gewerbe.undecided) == (5, 1, 1)
    assert gewerbe.availability == pytest.approx(1 / 4)
    assert (gewerbe.delivered, gewerbe.dead, gewerbe.verdict) == (2, 1, "zugestellt")
    assert gewerbe.last_delivered_at == oct_(4) + timedelta(hours=2)
    assert (gewerbe.tenant_name, gewerbe.kreis, gewerbe.connector) == (
        "Stadt A",
        "Kreis Beispiel",
        "http",
    )
    # A route whose only delivery is minutes old has not failed: no traffic to judge yet.
    hund = route(report, "town-a", "hund")
    assert (hund.deliveries, hund.undecided, hund.availability, hund.verdict) == (
        1,
        1,
        None,
        "ohne_nachweis",
    )
    # The operations tables are there (migration 0003_operations), and empty: no test passed,
    # the breaker was never open.
    assert (gewerbe.checks_ok, gewerbe.breaker_open_s) == (0, 0.0)
    health = {r.tenant: r for r in report.tenant_health}
    assert health["town-a"].availability == pytest.approx(1 / 4)
    assert report.totals.availability == pytest.approx(1 / 4)


async def test_a_successful_route_test_makes_a_quiet_route_online(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    checks = [
        {"tenant_id": "town-a", "route_id": "parken", "at": oct_(10), "ok": True},
        {"tenant_id": "town-a", "route_id": "parken", "at": oct_(11), "ok": False},
        {"tenant_id": "town-a", "route_id": "gewerbe", "at": oct_(12), "ok": False},
        # Outside October: counts for no October figure.
        {"tenant_id": "town-b", "route_id": "gewerbe", "at": oct_(1, 0, -1), "ok": True},
    ]
    await operations_tables(
        engine,
        route_checks=[
            {"id": f"C{i:025d}", "actor": "operator", "duration_ms": 12, **row}
            for i, row in enumerate(checks)
        ],
    )

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW)

    parken = next(c for c in report.coverage if (c.tenant, c.leika_key) == ("town-a", PARKEN))
    assert (parken.online_status, parken.reason) == ("ok", "routentest")
    assert parken.art_flaechendeckung == "in mind. einer Kommune verfügbar"
    quiet = route(report, "town-a", "parken")
    assert (quiet.verdict, quiet.checks_ok, quiet.checks_failed) == ("routentest", 1, 1)
    # A route with deliveries is judged by them, not by its tests.
    assert route(report, "town-a", "gewerbe").verdict == "zugestellt"
    assert (route(report, "town-b", "gewerbe").checks_ok, report.totals.services_online) == (0, 5)


async def test_time_with_the_breaker_open(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)
    transitions = [
        ("town-a", "gewerbe", oct_(1, 0, -3600), "active", "open"),  # open since September
        ("town-a", "gewerbe", oct_(2, 12), "open", "half-open"),  # 36 h open in October,
        ("town-a", "gewerbe", oct_(2, 13), "half-open", "active"),  # and 1 h half-open
        ("town-a", "gewerbe", oct_(20, 6), "active", "open"),  # 2 h
        ("town-a", "gewerbe", oct_(20, 8), "open", "active"),
        ("town-b", "gewerbe", oct_(31, 23), "active", "open"),  # 1 h, then November
        ("town-b", "gewerbe", oct_(31, 23, 3600 * 5), "open", "active"),
    ]
    await operations_tables(
        engine,
        route_transitions=[
            {
                "id": f"T{i:025d}",
                "tenant_id": tenant,
                "route_id": route_id,
                "at": at,
                "from_state": before,
                "to_state": after,
                "reason": "test",
                "actor": "worker",
            }
            for i, (tenant, route_id, at, before, after) in enumerate(transitions)
        ],
    )

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW)
    running = await build_report(
        engine,
        deployment(tmp_path),
        OCTOBER,
        now=oct_(20, 7),  # half-way through an opening
    )

    # Half-open counts: only the one probe delivery gets through to the back-end.
    assert route(report, "town-a", "gewerbe").breaker_open_s == (37 + 2) * 3600
    assert route(report, "town-b", "gewerbe").breaker_open_s == 3600
    assert route(report, "town-a", "hund").breaker_open_s == 0
    assert route(running, "town-a", "gewerbe").breaker_open_s == (37 + 1) * 3600
