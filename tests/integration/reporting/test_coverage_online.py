"""Online means available, in the federal export's columns — on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.reporting import Period, build_report, federal
from ozgbridge.reporting.model import CoverageRow, Report
from tests.integration.reporting.support import (
    GEWERBE,
    HUND,
    KFZ,
    OCTOBER,
    PARKEN,
    UNKNOWN,
    App,
    deployment,
    oct_,
    seed,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def cells(report: Report) -> dict[tuple[str, str], CoverageRow]:
    return {(c.tenant, c.leika_key): c for c in report.coverage}


def verdict(row: CoverageRow) -> tuple[str, str, str | None, str]:
    return (row.online_status, row.aktiv, row.art_flaechendeckung, row.reason)


async def test_online_means_routed_delivered_and_mature(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW)

    c = cells(report)
    # Kfz: delegated to the Kreis, whose route delivered in October: online everywhere, and as
    # the whole Kreis is covered, "kreisweit".
    for tenant in ("kreis", "town-a", "town-b"):
        assert verdict(c[(tenant, KFZ)]) == ("ok", "ja", "kreisweit flächendeckend", "zugestellt")
        assert (c[(tenant, KFZ)].served_by, c[(tenant, KFZ)].served_by_name) == (
            "kreis",
            "Kreis Beispiel",
        )
    # Gewerbe: town-a online; town-b routes it, but declares Reifegrad 2.0 · 1 — below the
    # federal online threshold; so the Kreis (its area is its towns') is not online either.
    assert verdict(c[("town-a", GEWERBE)]) == (
        "ok",
        "ja",
        "in mind. einer Kommune verfügbar",
        "zugestellt",
    )
    assert verdict(c[("town-b", GEWERBE)]) == ("nicht ok", "ja", None, "reifegrad_unter_schwelle")
    assert c[("town-b", GEWERBE)].maturity_meets_threshold is False
    assert verdict(c[("kreis", GEWERBE)]) == ("nicht ok", "ja", None, "nicht_alle_mitglieder")
    # Bewohnerparken: town-a routes it, but its route had no traffic and no route test.
    assert verdict(c[("town-a", PARKEN)]) == ("nicht ok", "ja", None, "ohne_nachweis")
    assert verdict(c[("town-b", PARKEN)]) == ("nicht ok", "nein", None, "sammelroute_ungenutzt")
    assert verdict(c[("kreis", PARKEN)]) == ("nicht ok", "nein", None, "nicht_alle_mitglieder")
    # Hundesteuer: town-a's own route; town-b through the Kreis's catch-all, which received one.
    assert verdict(c[("town-b", HUND)]) == ("ok", "ja", "kreisweit flächendeckend", "zugestellt")
    assert c[("town-b", HUND)].route_id == "rest"
    assert c[("town-a", GEWERBE)].availability == 0.8  # 4 of 5 delivered within an hour
    services = {s.leika_key: s for s in report.services}
    assert (services[GEWERBE].tenants_offered, services[GEWERBE].tenants_online) == (3, 1)
    assert not services[GEWERBE].area_wide
    assert services[HUND].area_wide
    assert services[UNKNOWN].area_wide  # the catch-all delivered it: online, no Reifegrad
    assert services[PARKEN].refusals == 3


async def test_failing_deliveries_take_a_service_offline(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The coordinator's finding: configuration says 'everywhere', deliveries say otherwise."""
    await seed(
        engine,
        [
            App("town-a", HUND, oct_(3), "dead", None, 10),
            App("town-a", HUND, oct_(4), "dead", None, 10),
            App("kreis", HUND, oct_(5), "delivered", 3, 1),
        ],
        demand=[],
    )

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW)

    c = cells(report)
    assert verdict(c[("town-a", HUND)]) == ("nicht ok", "ja", None, "stoerung")
    assert verdict(c[("town-b", HUND)]) == (
        "ok",
        "ja",
        "in mind. einer Kommune verfügbar",
        "zugestellt",
    )
    hund = next(s for s in report.services if s.leika_key == HUND)
    assert (hund.tenants_offered, hund.tenants_online, hund.area_wide) == (3, 2, False)
    route = next(r for r in report.availability if (r.tenant, r.route_id) == ("town-a", "hund"))
    assert (route.verdict, route.deliveries, route.dead, route.availability) == (
        "stoerung",
        2,
        2,
        0.0,
    )


async def test_the_area_is_judged_over_the_deployment_whatever_the_scope(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)

    towns = await build_report(engine, deployment(tmp_path), OCTOBER, ["town-a", "town-b"])

    assert [t.id for t in towns.tenants] == ["town-b", "town-a"]
    c = cells(towns)
    assert {tenant for tenant, _ in c} == {"town-a", "town-b"}
    assert c[("town-b", HUND)].art_flaechendeckung == "kreisweit flächendeckend"
    assert towns.totals.received == 11
    services = {s.leika_key: s for s in towns.services}
    assert services[HUND].area_wide
    assert not services[PARKEN].area_wide


async def test_coverage_rows_have_the_federal_export_fields_and_values(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW)

    names = [f.name for f in fields(CoverageRow)]
    assert tuple(names[: len(federal.EXPORT_FIELDS)]) == federal.EXPORT_FIELDS
    row = cells(report)[("town-a", GEWERBE)]
    assert (row.leika_key, row.leika_name, row.leika_bezeichnung) == (
        GEWERBE,
        "Gewerbe Anmeldung",
        "Gewerbe Anmeldung",
    )
    assert (row.ars, row.ars_name, row.ars_federal_state, row.bundesland) == (
        "053700004004",
        "Stadt A",
        "05",
        "Nordrhein-Westfalen",
    )
    assert (row.ozgid, row.ozg_bezeichnung) == (10294, "Unternehmensanmeldung und -genehmigung")
    assert row.url is None
    for cell in report.coverage:
        assert cell.online_status in (federal.ONLINE_OK, federal.ONLINE_NOT_OK)
        assert cell.aktiv in (federal.ACTIVE_YES, federal.ACTIVE_NO)
        assert cell.art_flaechendeckung in (*federal.AREA_VALUES, None)
        assert (cell.art_flaechendeckung is None) == (cell.online_status == "nicht ok")
    assert cells(report)[("kreis", UNKNOWN)].ozgid is None


async def test_previous_period_headline(engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(engine)

    report = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW)
    alone = await build_report(engine, deployment(tmp_path), OCTOBER, now=NOW, compare=False)

    assert report.previous is not None
    assert report.previous.period == Period(date(2026, 9, 1), date(2026, 9, 30))
    before = report.previous.headline
    # September: one Gewerbe at 23:59:59, delivered a second later — in October. So the route
    # had traffic in September but delivered nothing then: nothing was online in September.
    assert (before.received, before.delivered, before.dead) == (1, 1, 0)
    assert (before.services_offered, before.services_online, before.services_area_wide) == (
        4,
        0,
        0,
    )
    assert before.refusals == 1
    assert before.availability == 1.0
    assert alone.previous is None
    assert alone.coverage == report.coverage
