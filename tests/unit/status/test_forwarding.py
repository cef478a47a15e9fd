"""Where a not_responsible application goes: routing with exclusions, ping-pong, unroutable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozgbridge.domain import RegionRef
from ozgbridge.errors import RoutingError
from ozgbridge.forwarding import Forward, Unroutable, decide
from ozgbridge.routing import Router
from ozgbridge.status_rules import Refusal
from ozgbridge.tenants import load_deployment

CONFIG = Path(__file__).resolve().parents[3] / "config"
BAUANTRAG = "99012008001000"
GEWERBE = "99050012104000"
KFZ = "99036008007000"
ERKELENZ = RegionRef.of(ags="05370004")
GANGELT = RegionRef.of(ags="05370008")
KREIS = RegionRef.of(ags="05370000")


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(load_deployment(CONFIG, check_connectors=False))


def test_exclude_passes_over_the_region_tenant_to_its_kreis(router: Router) -> None:
    own = router.resolve(BAUANTRAG, ERKELENZ)
    onward = router.resolve(BAUANTRAG, ERKELENZ, exclude={"erkelenz"})

    assert (own.tenant.id, own.reason) == ("erkelenz", "own")
    assert (onward.tenant.id, onward.route.id, onward.reason) == (
        "kreis-heinsberg",
        "bauaufsicht",
        "parent",
    )


def test_exclude_drops_a_delegation_to_an_excluded_tenant(router: Router) -> None:
    # Gangelt's Bauaufsicht is the Kreis by delegation; Gangelt itself has no route for it.
    assert router.resolve(BAUANTRAG, GANGELT).reason == "delegated"
    with pytest.raises(RoutingError, match="passing over kreis-heinsberg"):
        router.resolve(BAUANTRAG, GANGELT, exclude={"kreis-heinsberg"})
    # a Kfz application delegated to the Kreis, excluded, falls back to nobody in Gangelt either
    with pytest.raises(RoutingError):
        router.resolve(KFZ, GANGELT, exclude={"kreis-heinsberg"})


def test_without_forward_to_the_next_responsible_tenant_is_chosen(router: Router) -> None:
    decision = decide(
        router, leika_key=BAUANTRAG, region=ERKELENZ, forward_to=None, visited={"erkelenz"}
    )

    assert isinstance(decision, Forward)
    assert decision.resolution.tenant.id == "kreis-heinsberg"


def test_forward_to_a_region_is_resolved_exactly_like_intake(router: Router) -> None:
    # Erkelenz says: this Bauantrag is for a plot in Gangelt — the Kreis handles Gangelt's.
    decision = decide(
        router, leika_key=BAUANTRAG, region=ERKELENZ, forward_to=GANGELT, visited={"erkelenz"}
    )

    assert isinstance(decision, Forward)
    assert (decision.resolution.tenant.id, decision.resolution.reason) == (
        "kreis-heinsberg",
        "delegated",
    )


def test_back_to_a_tenant_that_had_it_is_refused_as_ping_pong(router: Router) -> None:
    decision = decide(
        router,
        leika_key=BAUANTRAG,
        region=ERKELENZ,
        forward_to=ERKELENZ,
        visited={"erkelenz", "kreis-heinsberg"},
    )

    assert isinstance(decision, Refusal)
    assert decision.status == 409
    assert "erkelenz" in decision.detail
    assert "circles" in decision.detail


def test_forwarding_to_the_current_tenant_itself_is_refused(router: Router) -> None:
    decision = decide(
        router, leika_key=GEWERBE, region=ERKELENZ, forward_to=ERKELENZ, visited={"erkelenz"}
    )

    assert isinstance(decision, Refusal)
    assert decision.status == 409


def test_nobody_left_makes_it_unroutable(router: Router) -> None:
    decision = decide(
        router,
        leika_key=BAUANTRAG,
        region=ERKELENZ,
        forward_to=None,
        visited={"erkelenz", "kreis-heinsberg"},
    )

    assert isinstance(decision, Unroutable)
    assert BAUANTRAG in decision.reason


def test_a_region_outside_the_deployment_makes_it_unroutable(router: Router) -> None:
    aachen = RegionRef.of(ags="05334002")
    decision = decide(
        router, leika_key=GEWERBE, region=ERKELENZ, forward_to=aachen, visited={"erkelenz"}
    )

    assert isinstance(decision, Unroutable)
    assert "not served by this deployment" in decision.reason
