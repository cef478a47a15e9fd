"""Routing: (service, region) → responsible tenant and route; the example Kreis and small cases."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ozgbridge.domain import RegionRef
from ozgbridge.errors import ConfigError, RoutingError
from ozgbridge.routing import Resolution, Router
from ozgbridge.tenants import (
    CHILDREN,
    Deployment,
    Responsibility,
    RouteConfig,
    TenantConfig,
    load_deployment,
    token_sha256,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"

TOWNS = {
    "erkelenz": "05370004",
    "gangelt": "05370008",
    "geilenkirchen": "05370012",
    "heinsberg": "05370016",
    "hueckelhoven": "05370020",
    "selfkant": "05370024",
    "uebach-palenberg": "05370028",
    "waldfeucht": "05370032",
    "wassenberg": "05370036",
    "wegberg": "05370040",
}
GEWERBE = ["99050012104000", "99050012070000", "99050012071000"]
KFZ = ["99036008007000", "99036008070000"]
BAUGENEHMIGUNG = "99012008001000"
KREIS_BAUAUFSICHT = {"gangelt", "selfkant", "waldfeucht", "wassenberg"}


@pytest.fixture(scope="module")
def example() -> Deployment:
    # Routing does not depend on connector options; connectors are tested where they live.
    return load_deployment(CONFIG, check_connectors=False)


@pytest.fixture(scope="module")
def router(example: Deployment) -> Router:
    return Router(example)


def region(ags: str) -> RegionRef:
    return RegionRef.of(ags=ags)


# --- the example Kreis ------------------------------------------------------------------------


@pytest.mark.parametrize("town", sorted(TOWNS))
@pytest.mark.parametrize("service", GEWERBE)
def test_gewerbe_goes_to_the_town(router: Router, town: str, service: str) -> None:
    resolution = router.resolve(service, region(TOWNS[town]))
    assert (resolution.tenant.id, resolution.route.id, resolution.reason) == (
        town,
        "gewerbe",
        "own",
    )


@pytest.mark.parametrize("town", sorted(TOWNS))
@pytest.mark.parametrize("service", KFZ)
def test_kfz_goes_to_the_kreis_for_every_town(router: Router, town: str, service: str) -> None:
    resolution = router.resolve(service, region(TOWNS[town]))
    assert (resolution.tenant.id, resolution.route.id, resolution.reason) == (
        "kreis-heinsberg",
        "kfz",
        "delegated",
    )


def test_kfz_in_the_kreis_own_region_uses_its_own_route(router: Router) -> None:
    resolution = router.resolve(KFZ[0], region("05370000"))
    assert (resolution.tenant.id, resolution.route.id, resolution.reason) == (
        "kreis-heinsberg",
        "kfz",
        "own",
    )


@pytest.mark.parametrize("town", sorted(TOWNS))
def test_baugenehmigung_by_town_or_kreis(router: Router, town: str) -> None:
    resolution = router.resolve(BAUGENEHMIGUNG, region(TOWNS[town]))
    expected = ("kreis-heinsberg", "delegated") if town in KREIS_BAUAUFSICHT else (town, "own")
    assert (resolution.tenant.id, resolution.reason) == expected
    assert resolution.route.id == "bauaufsicht"


def test_unknown_service_names_service_and_region(router: Router) -> None:
    with pytest.raises(RoutingError) as info:
        router.resolve("99999999999000", region("05370004"))
    assert str(info.value) == (
        "no authority is responsible for service 99999999999000 in region "
        "05370004 / 053700004004: neither tenant 'erkelenz' nor its parents route this service"
    )
    assert (info.value.leika_key, info.value.region) == ("99999999999000", "053700004004")


def test_unknown_region_names_service_and_region(router: Router) -> None:
    with pytest.raises(RoutingError) as info:
        router.resolve(GEWERBE[0], RegionRef.of(ars="055150000000"))  # Münster
    assert str(info.value) == (
        f"no authority is responsible for service {GEWERBE[0]} in region "
        "05515000 / 055150000000: this region is not served by this deployment"
    )
    assert (info.value.leika_key, info.value.region) == (GEWERBE[0], "055150000000")


# --- small deployments for single rules -------------------------------------------------------


def deployment(tmp_path: Path, **tenants: str) -> Deployment:
    root = tmp_path / "cfg"
    (root / "tenants").mkdir(parents=True)
    for tenant_id, body in tenants.items():
        text = f"id: {tenant_id}\nname: {tenant_id}\n" + textwrap.dedent(body).lstrip("\n")
        (root / "tenants" / f"{tenant_id}.yaml").write_text(text, encoding="utf-8")
    (root / "keys.yaml").write_text(
        f'keys:\n  - {{id: portal, role: portal, sha256: "{token_sha256("t")}"}}\n',
        encoding="utf-8",
    )
    return load_deployment(root, check_connectors=False)


def route(route_id: str, *services: str) -> str:
    listed = ", ".join(f'"{service}"' for service in services)
    return f"  - {{id: {route_id}, services: [{listed}], connector: filedrop}}\n"


def test_exact_route_wins_over_catch_all_whatever_the_order(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        town='ags: "05370004"\nroutes:\n' + route("rest", "*") + route("gewerbe", GEWERBE[0]),
    )
    router = Router(d)
    assert router.resolve(GEWERBE[0], region("05370004")).route.id == "gewerbe"
    assert router.resolve(KFZ[0], region("05370004")).route.id == "rest"


def test_own_catch_all_wins_over_parent_exact_route(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        kreis='ags: "05370000"\nroutes:\n' + route("gewerbe", GEWERBE[0]),
        town='ags: "05370004"\nparent: kreis\nroutes:\n' + route("rest", "*"),
    )
    resolution = Router(d).resolve(GEWERBE[0], region("05370004"))
    assert (resolution.tenant.id, resolution.route.id, resolution.reason) == ("town", "rest", "own")


def test_parent_fallback_walks_up_the_ancestors(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        land='ags: "05000000"\nroutes:\n' + route("wohngeld", "99107023017000"),
        kreis='ags: "05370000"\nparent: land\nroutes:\n' + route("kfz", KFZ[0]),
        town='ags: "05370004"\nparent: kreis\nroutes:\n' + route("gewerbe", GEWERBE[0]),
    )
    router = Router(d)
    kfz = router.resolve(KFZ[0], region("05370004"))
    wohngeld = router.resolve("99107023017000", region("05370004"))
    assert (kfz.tenant.id, kfz.route.id, kfz.reason) == ("kreis", "kfz", "parent")
    assert (wohngeld.tenant.id, wohngeld.reason) == ("land", "parent")
    with pytest.raises(RoutingError, match="neither tenant 'town' nor its parents"):
        router.resolve(BAUGENEHMIGUNG, region("05370004"))


def test_parent_fallback_prefers_the_parents_exact_route(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        kreis='ags: "05370000"\nroutes:\n' + route("rest", "*") + route("kfz", KFZ[0]),
        town='ags: "05370004"\nparent: kreis\nroutes:\n' + route("gewerbe", GEWERBE[0]),
    )
    assert Router(d).resolve(KFZ[0], region("05370004")).route.id == "kfz"


def test_delegation_wins_over_the_towns_own_route(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        kreis='ags: "05370000"\nroutes:\n'
        + route("kfz", KFZ[0])
        + f'responsible_for:\n  - {{services: ["{KFZ[0]}"], regions: children}}\n',
        town='ags: "05370004"\nparent: kreis\nroutes:\n' + route("kfz-alt", KFZ[0]),
    )
    resolution = Router(d).resolve(KFZ[0], region("05370004"))
    assert (resolution.tenant.id, resolution.reason) == ("kreis", "delegated")


def test_delegation_to_a_region_without_a_tenant(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        kreis='ags: "05370000"\nroutes:\n'
        + route("kfz", KFZ[0])
        + f'responsible_for:\n  - {{services: ["{KFZ[0]}"], regions: ["05366004"]}}\n',
    )
    router = Router(d)
    assert router.resolve(KFZ[0], region("05366004")).tenant.id == "kreis"
    with pytest.raises(RoutingError, match="not served by this deployment"):
        router.resolve(GEWERBE[0], region("05366004"))


def test_tenant_configured_by_non_nrw_ars_is_found_by_ags(tmp_path: Path) -> None:
    # Rhineland-Palatinate: the Verbandsgemeinde part of the ARS is not derivable from the AGS.
    d = deployment(
        tmp_path, ortsgemeinde='ars: "071355001024"\nroutes:\n' + route("gewerbe", GEWERBE[0])
    )
    router = Router(d)
    by_ars = router.resolve(GEWERBE[0], RegionRef.of(ars="071355001024"))
    by_ags = router.resolve(GEWERBE[0], RegionRef.of(ags="07135024"))
    assert by_ars.tenant.id == by_ags.tenant.id == "ortsgemeinde"
    assert RegionRef.of(ags="07135024").ars != "071355001024"


def test_delegation_given_by_ags_covers_any_ars_of_that_municipality(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        kreis='ags: "07135000"\nroutes:\n'
        + route("kfz", KFZ[0])
        + f'responsible_for:\n  - {{services: ["{KFZ[0]}"], regions: ["07135024"]}}\n',
    )
    resolution = Router(d).resolve(KFZ[0], RegionRef.of(ars="071355001024"))
    assert (resolution.tenant.id, resolution.reason) == ("kreis", "delegated")


def test_ambiguous_ags_is_a_routing_error(tmp_path: Path) -> None:
    # A Kreis and a Verbandsgemeinde share the AGS 07135000; only their ARS tell them apart.
    d = deployment(
        tmp_path,
        kreis='ars: "071350000000"\nroutes:\n' + route("kfz", KFZ[0]),
        vg='ars: "071355001000"\nroutes:\n' + route("gewerbe", GEWERBE[0]),
    )
    router = Router(d)
    assert router.resolve(GEWERBE[0], RegionRef.of(ars="071355001000")).tenant.id == "vg"
    assert router.resolve(KFZ[0], RegionRef.of(ars="071350000000")).tenant.id == "kreis"
    with pytest.raises(RoutingError, match=r"its AGS names several tenants \(kreis, vg\)"):
        router.resolve(GEWERBE[0], RegionRef.of(ars="071355002000"))


def test_delegation_by_ars_does_not_capture_another_region_with_the_same_ags(
    tmp_path: Path,
) -> None:
    d = deployment(
        tmp_path,
        kreis='ars: "071350000000"\nroutes:\n' + route("gewerbe", GEWERBE[0]),
        vg='ars: "071355001000"\nroutes:\n' + route("rest", "*"),
        amt='ags: "07000000"\nroutes:\n'
        + route("gewerbe", GEWERBE[0])
        + f'responsible_for:\n  - {{services: ["{GEWERBE[0]}"], regions: ["071355001000"]}}\n',
    )
    router = Router(d)
    assert router.resolve(GEWERBE[0], RegionRef.of(ars="071355001000")).tenant.id == "amt"
    kreis = router.resolve(GEWERBE[0], RegionRef.of(ars="071350000000"))
    assert (kreis.tenant.id, kreis.reason) == ("kreis", "own")


def test_delegation_to_children_follows_the_ags_fallback(tmp_path: Path) -> None:
    d = deployment(
        tmp_path,
        kreis='ars: "071350000000"\nroutes:\n'
        + route("kfz", KFZ[0])
        + f'responsible_for:\n  - {{services: ["{KFZ[0]}"], regions: children}}\n',
        ortsgemeinde='ars: "071355001024"\nparent: kreis\nroutes:\n' + route("rest", "*"),
    )
    # The portal only knows the AGS; the NRW-rule ARS it implies is nobody's.
    resolution = Router(d).resolve(KFZ[0], RegionRef.of(ags="07135024"))
    assert (resolution.tenant.id, resolution.reason) == ("kreis", "delegated")


def test_router_refuses_an_undeliverable_delegation() -> None:
    # Only possible for a hand-built deployment: load_deployment reports it as a problem.
    kreis = TenantConfig(
        id="kreis",
        name="Kreis",
        ags="05370000",
        routes=[RouteConfig(id="gewerbe", services=[GEWERBE[0]], connector="filedrop")],
        responsible_for=[Responsibility(services=[KFZ[0]], regions=["05370004"])],
    )  # type: ignore[call-arg]
    hand_built = Deployment(Path("."), {"kreis": kreis}, (), fingerprint="test")
    with pytest.raises(ConfigError, match=f"responsible for service {KFZ[0]} by delegation"):
        Router(hand_built)


# --- property ---------------------------------------------------------------------------------


WOHNGELD = "99107023017000"
SERVICES = [*GEWERBE, *KFZ, BAUGENEHMIGUNG, WOHNGELD, "99115005104000", "99108001001000"]


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The example plus a Kreis route for Wohngeld without delegation: the parent rule applies."""
    root = tmp_path_factory.mktemp("extended") / "config"
    shutil.copytree(CONFIG, root, ignore=shutil.ignore_patterns("examples"))
    kreis = root / "tenants" / "kreis-heinsberg.yaml"
    text = kreis.read_text(encoding="utf-8").replace(
        "responsible_for:\n", route("wohngeld", WOHNGELD) + "responsible_for:\n"
    )
    kreis.write_text(text, encoding="utf-8")
    return load_deployment(root, check_connectors=False)


def known_regions(deployment: Deployment) -> list[str]:
    # Every tenant's region, a region nobody serves, and one only a delegation could cover.
    return [t.ars for t in deployment.tenants.values()] + ["055150000000", "053700044044"]


def check_resolution(deployment: Deployment, router: Router, service: str, ars: str) -> str:
    """Resolve and check the answer's invariants; returns which rule answered."""
    where = RegionRef.of(ars=ars)
    try:
        resolution = router.resolve(service, where)
    except RoutingError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert service in str(error)
        assert ars in str(error)
        assert (error.leika_key, error.region) == (service, ars)
        return "routing error"
    assert isinstance(resolution, Resolution)
    assert deployment.tenant(resolution.tenant.id) is resolution.tenant
    assert resolution.route in resolution.tenant.routes
    assert resolution.route.matches(service)
    own = next((t for t in deployment.tenants.values() if where.ags == t.ags), None)
    if resolution.reason == "own":
        assert resolution.tenant is own
    elif resolution.reason == "parent":
        assert own is not None
        assert not any(route.matches(service) for route in own.routes)
        assert resolution.tenant.id == own.parent
    else:
        covered = [
            r
            for r in resolution.tenant.responsible_for
            if service in r.services
            and (
                (r.regions == CHILDREN and own is not None and own.parent == resolution.tenant.id)
                or (isinstance(r.regions, list) and {where.ags, where.ars} & set(r.regions))
            )
        ]
        assert covered
    return resolution.reason


def test_every_configured_case_resolves_consistently(extended: Deployment) -> None:
    router = Router(extended)
    outcomes = {
        check_resolution(extended, router, service, ars)
        for service in SERVICES
        for ars in known_regions(extended)
    }
    assert outcomes == {"own", "parent", "delegated", "routing error"}


# Any ARS, and ARS with the AGS of a tenant but an arbitrary Verband part (found by AGS).
ANY_ARS = st.from_regex(r"[0-9]{12}", fullmatch=True)
TENANT_AGS_ANY_VERBAND = st.builds(
    lambda ags, verband: ags[:5] + verband + ags[5:],
    st.sampled_from([*TOWNS.values(), "05370000"]),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
)


@settings(max_examples=300)
@given(
    service=st.one_of(st.sampled_from(SERVICES), st.from_regex(r"99[0-9]{12}", fullmatch=True)),
    ars=st.one_of(ANY_ARS, TENANT_AGS_ANY_VERBAND),
)
def test_any_valid_request_resolves_consistently_or_fails_with_routing_error(
    extended: Deployment, service: str, ars: str
) -> None:
    event(check_resolution(extended, Router(extended), service, ars))
