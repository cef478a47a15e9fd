"""The example deployment in config/ loads; the Deployment and model API behave as documented."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from ozgbridge import connector_registry
from ozgbridge.connector import Connector, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope, RegionRef
from ozgbridge.routing import Router
from ozgbridge.tenants import (
    ApiKey,
    Deployment,
    Maturity,
    Role,
    RouteConfig,
    TenantConfig,
    load_deployment,
    token_sha256,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"

# Kreis Heinsberg and its towns: AGS from the official federal annex lists, ARS by the NRW rule
# (copied from the project's shared reference data, regions/nrw_examples.csv).
HEINSBERG = {
    "kreis-heinsberg": ("Kreis Heinsberg", "05370000", "053700000000"),
    "erkelenz": ("Stadt Erkelenz", "05370004", "053700004004"),
    "gangelt": ("Gemeinde Gangelt", "05370008", "053700008008"),
    "geilenkirchen": ("Stadt Geilenkirchen", "05370012", "053700012012"),
    "heinsberg": ("Stadt Heinsberg", "05370016", "053700016016"),
    "hueckelhoven": ("Stadt Hückelhoven", "05370020", "053700020020"),
    "selfkant": ("Gemeinde Selfkant", "05370024", "053700024024"),
    "uebach-palenberg": ("Stadt Übach-Palenberg", "05370028", "053700028028"),
    "waldfeucht": ("Gemeinde Waldfeucht", "05370032", "053700032032"),
    "wassenberg": ("Stadt Wassenberg", "05370036", "053700036036"),
    "wegberg": ("Stadt Wegberg", "05370040", "053700040040"),
}
TOWNS = sorted(set(HEINSBERG) - {"kreis-heinsberg"})
WITHOUT_BAUAUFSICHT = ["gangelt", "selfkant", "waldfeucht", "wassenberg"]


class _DropOptions(ConnectorOptions):
    directory: str


class _Drop(Connector[_DropOptions]):
    kind = "filedrop"
    Options = _DropOptions

    async def send(self, envelope: Envelope) -> Receipt:
        raise NotImplementedError


@pytest.fixture
def stand_in_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds: dict[str, type[Connector[Any]]] = {"filedrop": _Drop}
    monkeypatch.setattr(connector_registry, "_registry", lambda: kinds)


@pytest.fixture
def example(stand_in_registry: None) -> Deployment:
    return load_deployment(CONFIG)


def test_example_has_the_kreis_and_its_ten_towns(example: Deployment) -> None:
    assert list(example.tenants) == sorted(HEINSBERG)
    for tenant_id, (name, ags, ars) in HEINSBERG.items():
        tenant = example.tenant(tenant_id)
        assert (tenant.name, tenant.ags, tenant.ars) == (name, ags, ars)
        assert tenant.source == CONFIG / "tenants" / f"{tenant_id}.yaml"
    assert example.tenant("kreis-heinsberg").parent is None
    assert [t.id for t in example.children("kreis-heinsberg")] == TOWNS
    assert all(example.tenant(town).parent == "kreis-heinsberg" for town in TOWNS)
    assert example.children("erkelenz") == []


def test_every_example_route_drops_files_into_its_tenants_directory(example: Deployment) -> None:
    for tenant in example.tenants.values():
        assert tenant.routes
        for route in tenant.routes:
            assert route.connector == "filedrop"
            assert route.options == {"directory": f"dropbox/{tenant.id}"}


def test_example_towns_route_their_own_services(example: Deployment) -> None:
    own = {"gewerbe", "melde", "hundesteuer", "bewohnerparken"}
    for town in TOWNS:
        routes = {route.id for route in example.tenant(town).routes}
        assert routes == (own if town in WITHOUT_BAUAUFSICHT else own | {"bauaufsicht"})
    gewerbe = example.route("erkelenz", "gewerbe")
    assert gewerbe.services == ["99050012104000", "99050012070000", "99050012071000"]
    assert gewerbe.maturity == Maturity(model="2.0", level=3)
    assert example.route("erkelenz", "melde").maturity == Maturity(model="1.1", level=2)


def test_example_kreis_delegations(example: Deployment) -> None:
    kreis = example.tenant("kreis-heinsberg")
    assert [(r.services, r.regions) for r in kreis.responsible_for] == [
        (["99036008007000", "99036008070000"], "children"),
        (["99012008001000"], ["05370008", "05370024", "05370032", "05370036"]),
    ]
    assert [route.id for route in kreis.routes] == ["kfz", "bauaufsicht"]


def test_example_validates_with_the_real_builtin_connectors() -> None:
    # No stand-in: the installed filedrop connector judges the example's options.
    deployment = load_deployment(CONFIG)
    assert connector_registry.connector_class("filedrop").kind == "filedrop"
    assert len(deployment.tenants) == 11


def test_example_demo_keys(example: Deployment) -> None:
    portal = example.key_by_hash(token_sha256("ozgb_demo_portal_NOT_FOR_PRODUCTION"))
    operator = example.key_by_hash(token_sha256("ozgb_demo_operator_NOT_FOR_PRODUCTION"))
    assert portal is not None
    assert (portal.id, portal.role, portal.demo) == ("demo-portal", Role.PORTAL, True)
    assert operator is not None
    assert (operator.id, operator.role, operator.demo) == ("demo-operator", Role.OPERATOR, True)
    assert example.key_by_hash(token_sha256("guess")) is None
    assert (
        example.key_by_hash(token_sha256("ozgb_demo_portal_NOT_FOR_PRODUCTION").upper()) is portal
    )


def test_loading_demo_keys_logs_a_warning(stand_in_registry: None) -> None:
    with capture_logs() as logs:
        load_deployment(CONFIG)
    demo = [entry for entry in logs if entry["event"] == "config.demo_key"]
    assert [(entry["key_id"], entry["log_level"]) for entry in demo] == [
        ("demo-portal", "warning"),
        ("demo-operator", "warning"),
    ]


def test_fingerprint_is_stable_and_ignores_comments(
    example: Deployment, tmp_path: Path, stand_in_registry: None
) -> None:
    copy = tmp_path / "config"
    shutil.copytree(CONFIG, copy, ignore=shutil.ignore_patterns("examples"))
    erkelenz = copy / "tenants" / "erkelenz.yaml"
    erkelenz.write_text("# reviewed 2026-01\n" + erkelenz.read_text(encoding="utf-8"))
    assert re.fullmatch(r"[0-9a-f]{64}", example.fingerprint)
    assert load_deployment(copy).fingerprint == example.fingerprint
    erkelenz.write_text(erkelenz.read_text().replace("Stadt Erkelenz", "Stadt Erkelenz (Test)"))
    assert load_deployment(copy).fingerprint != example.fingerprint


def test_lookups_of_unknown_ids_raise_key_error(example: Deployment) -> None:
    with pytest.raises(KeyError):
        example.tenant("aachen")
    with pytest.raises(KeyError, match="no route 'kfz' for tenant 'erkelenz'"):
        example.route("erkelenz", "kfz")
    with pytest.raises(KeyError):
        example.children("aachen")


def test_dumps_leave_out_the_source_and_repr_hides_options(example: Deployment) -> None:
    tenant = example.tenant("erkelenz")
    dumped = tenant.model_dump(mode="json")
    assert "source" not in dumped
    assert dumped["routes"][0]["options"] == {"directory": "dropbox/erkelenz"}
    assert "dropbox" not in repr(tenant)


# --- the models used directly -----------------------------------------------------------------


def test_tenant_derives_the_missing_region_key() -> None:
    by_ags = TenantConfig(id="erkelenz", name="Stadt Erkelenz", ags="05370004")  # type: ignore[call-arg]
    by_ars = TenantConfig(id="erkelenz", name="Stadt Erkelenz", ars="053700004004")  # type: ignore[call-arg]
    assert (by_ags.ars, by_ars.ags) == ("053700004004", "05370004")
    with pytest.raises(ValidationError, match="names municipality 05370008"):
        TenantConfig(id="x", name="X", ags="05370004", ars="053700008008")


def test_route_matching() -> None:
    exact = RouteConfig(id="gewerbe", services=["99050012104000"], connector="filedrop")
    catch_all = RouteConfig(id="rest", services=["*"], connector="filedrop")
    assert exact.matches("99050012104000")
    assert not exact.matches("99050012070000")
    assert not exact.is_catch_all
    assert catch_all.is_catch_all
    assert catch_all.matches("99050012070000")


def test_maturity_levels_depend_on_the_model() -> None:
    assert Maturity(model="2.0", level=7).level == 7
    with pytest.raises(ValidationError, match=r"level 5 does not exist in maturity model 1.1"):
        Maturity(model="1.1", level=5)
    with pytest.raises(ValidationError):
        Maturity(model="2.0", level=-1)


def test_api_key_role_and_tenant_belong_together() -> None:
    digest = token_sha256("x")
    assert ApiKey(id="it", role=Role.TENANT, tenant="erkelenz", sha256=digest).tenant == "erkelenz"
    with pytest.raises(ValidationError, match="must name its tenant"):
        ApiKey(id="it", role=Role.TENANT, sha256=digest)
    with pytest.raises(ValidationError, match="only keys with role 'tenant'"):
        ApiKey(id="p", role=Role.PORTAL, tenant="erkelenz", sha256=digest)


# --- the example submissions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tenant", "reason"),
    [
        ("gewerbeanmeldung-erkelenz.json", "erkelenz", "own"),
        ("kfz-zulassung-gangelt.json", "kreis-heinsberg", "delegated"),
    ],
)
def test_example_submissions_route_and_carry_a_valid_pdf(
    example: Deployment, name: str, tenant: str, reason: str
) -> None:
    body = json.loads((CONFIG / "examples" / name).read_text(encoding="utf-8"))
    resolution = Router(example).resolve(
        body["service"]["leikaKey"], RegionRef.of(ars=body["region"]["ars"])
    )
    assert (resolution.tenant.id, resolution.reason) == (tenant, reason)
    assert body["data"]["mimeType"] == "application/json"
    [attachment] = body["attachments"]
    assert attachment["mimeType"] == "application/pdf"
    pdf = base64.b64decode(attachment["contentBase64"], validate=True)
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    # A PDF reader finds objects by the byte offsets in the xref table: they must be exact.
    startxref = int(re.search(rb"startxref\s+(\d+)", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[startxref:].startswith(b"xref")
    offsets = [int(m.group(1)) for m in re.finditer(rb"(\d{10}) 00000 n", pdf)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
