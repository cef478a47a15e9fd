"""The pure decisions behind "online": route verdicts, breaker time, cells, federal thresholds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ozgbridge.reporting import federal
from ozgbridge.reporting.availability import (
    NO_FACTS,
    RouteChecks,
    RouteFacts,
    Transition,
    Verdict,
    combined_availability,
    open_seconds,
    verdict,
)
from ozgbridge.reporting.coverage import Reason, own_cell
from ozgbridge.reporting.period import Period
from ozgbridge.routing import Resolution
from ozgbridge.tenants import Maturity, RouteConfig, TenantConfig

OCTOBER = Period(date(2026, 10, 1), date(2026, 10, 31))
HOUR = 3600.0


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def facts(**values: int) -> RouteFacts:
    base = {"deliveries": 0, "within_hour": 0, "undecided": 0, "delivered": 0, "dead": 0}
    return RouteFacts(**{**base, "traffic": 0, **values}, last_delivered_at=None)


@pytest.mark.parametrize(
    ("route", "checks", "expected"),
    [
        (facts(delivered=1, traffic=5, dead=4), None, Verdict.DELIVERED),
        (facts(traffic=2, dead=2), RouteChecks(ok=3, failed=0), Verdict.FAILING),
        (NO_FACTS, RouteChecks(ok=1, failed=4), Verdict.CHECKED),
        (NO_FACTS, RouteChecks(ok=0, failed=1), Verdict.NO_EVIDENCE),
        (None, None, Verdict.NO_EVIDENCE),
        # only deliveries under way for less than an hour: no traffic to judge yet
        (facts(deliveries=1, undecided=1), None, Verdict.NO_EVIDENCE),
    ],
)
def test_route_verdict(
    route: RouteFacts | None, checks: RouteChecks | None, expected: Verdict
) -> None:
    assert verdict(route, checks) is expected
    assert expected.works == (expected in (Verdict.DELIVERED, Verdict.CHECKED))


def test_availability_leaves_out_what_is_still_under_way() -> None:
    assert facts(deliveries=5, within_hour=3, undecided=1).availability == 0.75
    assert facts(deliveries=1, undecided=1).availability is None
    assert NO_FACTS.availability is None
    combined = combined_availability(
        [facts(deliveries=4, within_hour=4), facts(deliveries=6, within_hour=1, undecided=1)]
    )
    assert combined == pytest.approx(5 / 9)
    assert combined_availability([]) is None


def test_breaker_open_time() -> None:
    history = [
        Transition(at(1) - timedelta(days=3), "open"),  # open when the period starts
        Transition(at(2), "half-open"),
        Transition(at(2, 1), "open"),
        Transition(at(2, 3), "active"),
        Transition(at(30), "open"),  # still open at the end of the period
        Transition(datetime(2026, 11, 2, tzinfo=UTC), "active"),
    ]

    # Half-open counts as open (only the probe gets through): 1 Oct 00:00 to 2 Oct 03:00, then
    # 30 Oct to the period's end.
    assert open_seconds(history, OCTOBER, at(31, 23)) == (24 + 3 + 24 + 23) * HOUR
    assert open_seconds(history, OCTOBER, datetime(2027, 1, 1, tzinfo=UTC)) == (24 + 3 + 48) * HOUR
    assert open_seconds(history, OCTOBER, at(1, 6)) == 6 * HOUR  # up to now only
    assert open_seconds([], OCTOBER, at(31)) == 0.0
    assert open_seconds(history, OCTOBER, datetime(2026, 9, 1, tzinfo=UTC)) == 0.0


def resolution(route: RouteConfig) -> Resolution:
    tenant = TenantConfig(id="stadt", name="Stadt", ags="05370004", routes=[route])
    return Resolution(tenant, route, "own")


def route(maturity: Maturity | None = None, services: list[str] | None = None) -> RouteConfig:
    return RouteConfig(
        id="r", services=services or ["99050012104000"], connector="http", maturity=maturity
    )


def m11(level: int) -> RouteConfig:
    return route(Maturity(model="1.1", level=level))


def m20(level: int) -> RouteConfig:
    return route(Maturity(model="2.0", level=level))


@pytest.mark.parametrize(
    ("found", "active", "works", "expected"),
    [
        (None, False, Verdict.DELIVERED, (False, False, Reason.NOBODY)),
        (route(), False, Verdict.DELIVERED, (True, True, Reason.DELIVERED)),
        (route(), False, Verdict.CHECKED, (True, True, Reason.CHECKED)),
        (route(), False, Verdict.FAILING, (True, False, Reason.FAILING)),
        (route(), False, None, (True, False, Reason.NO_EVIDENCE)),
        (route(services=["*"]), False, Verdict.DELIVERED, (False, False, Reason.CATCH_ALL_UNUSED)),
        (route(services=["*"]), True, Verdict.DELIVERED, (True, True, Reason.DELIVERED)),
        (m11(1), False, Verdict.DELIVERED, (True, False, Reason.MATURITY)),
        (m11(2), False, Verdict.DELIVERED, (True, True, Reason.DELIVERED)),
        (m20(1), False, Verdict.DELIVERED, (True, False, Reason.MATURITY)),
        (m20(7), False, Verdict.DELIVERED, (True, True, Reason.DELIVERED)),
    ],
)  # fmt: skip
def test_own_cell(
    found: RouteConfig | None,
    active: bool,
    works: Verdict | None,
    expected: tuple[bool, bool, Reason],
) -> None:
    cell = own_cell(resolution(found) if found else None, active, works)

    assert (cell.offered, cell.online, cell.reason) == expected


def test_federal_levels_and_regions() -> None:
    assert federal.meets_online_threshold("1.1", 2)
    assert not federal.meets_online_threshold("1.1", 1)
    assert federal.maturity_share("1.1", 3) == 0.75
    assert federal.maturity_share("2.0", 7) == 1.0
    assert federal.is_kreis("053700000000")  # Kreis Heinsberg
    assert federal.is_kreis("055150000000")  # Münster, kreisfreie Stadt
    assert not federal.is_kreis("053700004004")  # Erkelenz
    assert not federal.is_kreis("053000000000")  # Regierungsbezirk Köln
    assert federal.is_land("050000000000")
    assert not federal.is_kreis("050000000000")
    assert federal.LAENDER["05"] == "Nordrhein-Westfalen"
    assert len(federal.LAENDER) == 16
    assert federal.AREA_VALUES == (
        "bundesweit flächendeckend",
        "in mind. einer Kommune verfügbar",
        "landesweit flächendeckend",
        "kreisweit flächendeckend",
        "nicht in Auswertung berücksichtigt",
    )
