"""Every configuration rule, with the exact problem an operator would read: file, field, line."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, field_validator

from ozgbridge import connector_registry
from ozgbridge.connector import Connector, ConnectorOptions, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.tenants import load_deployment, token_sha256

T = "cfg/tenants"
KEYS_FILE = "cfg/keys.yaml"


class _HttpLikeOptions(ConnectorOptions):
    url: str
    signing_secret: str = Field(min_length=16)

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL")
        return value


class _HttpLike(Connector[_HttpLikeOptions]):
    kind = "webhook"
    Options = _HttpLikeOptions

    async def send(self, envelope: Envelope) -> Receipt:
        raise NotImplementedError


class _DropOptions(ConnectorOptions):
    directory: str


class _Drop(Connector[_DropOptions]):
    kind = "filedrop"
    Options = _DropOptions

    async def send(self, envelope: Envelope) -> Receipt:
        raise NotImplementedError


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds: dict[str, type[Connector[Any]]] = {"filedrop": _Drop, "webhook": _HttpLike}
    monkeypatch.setattr(connector_registry, "_registry", lambda: kinds)


KEYS = f"""
keys:
  - {{id: portal, role: portal, sha256: "{token_sha256("portal-token")}"}}
"""

TOWN_A = """
id: a
name: Stadt A
ags: "05370004"
routes:
  - id: gewerbe
    services: ["99050012104000"]
    connector: filedrop
    options: {directory: dropbox/a}
"""


def write(tmp_path: Path, tenants: dict[str, str], keys: str | None = KEYS) -> Path:
    root = tmp_path / "cfg"
    (root / "tenants").mkdir(parents=True)
    for name, text in tenants.items():
        (root / "tenants" / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    if keys is not None:
        (root / "keys.yaml").write_text(textwrap.dedent(keys).lstrip("\n"), encoding="utf-8")
    return root


def problems(root: Path, **options: bool) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_deployment(root, **options)
    return info.value.problems


def test_minimal_deployment_loads(tmp_path: Path) -> None:
    deployment = load_deployment(write(tmp_path, {"a.yaml": TOWN_A}))
    assert list(deployment.tenants) == ["a"]
    assert deployment.tenant("a").ars == "053700004004"


# --- files and YAML ---------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yaml": "id: a\nname: Stadt A\nroutes: [\n  - broken\n"})
    [problem] = problems(root)
    assert problem.file == f"{T}/a.yaml"
    assert problem.line == 4
    assert problem.message.startswith("invalid YAML: ")


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yaml": TOWN_A + 'name: "Stadt B"\n'})
    assert problems(root) == [
        ConfigProblem(
            f"{T}/a.yaml",
            "name",
            "duplicate key 'name' (first on line 2); YAML would silently keep the last",
            9,
        )
    ]


def test_tenant_file_must_be_a_mapping(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yaml": "- id: a\n"})
    assert problems(root) == [
        ConfigProblem(
            f"{T}/a.yaml", "", "must be a mapping of fields (id:, name:, ags:, routes:, …)", 1
        )
    ]


def test_missing_and_misnamed_files(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yml": TOWN_A}, keys=None)
    assert problems(root) == [
        ConfigProblem("cfg/keys.yaml", "", "missing: API keys are required (keys: [...])"),
        ConfigProblem("cfg/tenants", "", "holds no tenant files (*.yaml)"),
        ConfigProblem(f"{T}/a.yml", "", "not read: rename it to a.yaml"),
    ]


def test_missing_tenants_directory(tmp_path: Path) -> None:
    root = tmp_path / "cfg"
    root.mkdir()
    (root / "keys.yaml").write_text(textwrap.dedent(KEYS), encoding="utf-8")
    assert problems(root) == [ConfigProblem("cfg/tenants", "", "missing: one YAML file per tenant")]


def test_config_dir_must_exist(tmp_path: Path) -> None:
    [problem] = problems(tmp_path / "nowhere")
    assert problem.message == "is not a directory"


# --- schema -----------------------------------------------------------------------------------


def test_schema_errors_are_located_and_all_reported(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "a.yaml": """
                id: A
                ags: 05370004
                routes:
                  - id: gewerbe
                    serivces: ["99050012104000"]
                    connector: filedrop
                    options: {directory: dropbox/a}
                  - id: melde
                    services: ["99115005104000", "9911500510400", "*"]
                    connector: filedrop
                    options: {directory: dropbox/a}
                    maturity: {model: "1.1", level: 5}
                    retry_schedule: [0, -5]
                    timeout: 0
            """
        },
    )
    f = f"{T}/a.yaml"
    assert problems(root) == [
        ConfigProblem(f, "id", "'A' is not a slug (lowercase letters, digits and inner '-')", 1),
        ConfigProblem(f, "name", "required field is missing", 1),
        ConfigProblem(
            f, "ags", "must be text, but YAML read it as a number: put the value in quotes", 2
        ),
        ConfigProblem(f, "routes[0].services", "required field is missing", 4),
        ConfigProblem(
            f, "routes[0].serivces", "unknown field (misspelt, or not supported here)", 5
        ),
        ConfigProblem(
            f,
            "routes[1].services[1]",
            "'9911500510400' is neither a LeiKa key (14 digits starting with 99) nor '*'",
            9,
        ),
        ConfigProblem(
            f,
            "routes[1].maturity.level",
            "level 5 does not exist in maturity model 1.1 (0–4)",
            12,
        ),
        ConfigProblem(
            f, "routes[1].retry_schedule[1]", "Input should be greater than or equal to 0", 13
        ),
        ConfigProblem(f, "routes[1].timeout", "Input should be greater than 0", 14),
    ]


def test_catch_all_must_stand_alone(tmp_path: Path) -> None:
    tenant = TOWN_A.replace('["99050012104000"]', '["99050012104000", "*"]')
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(
            f"{T}/a.yaml",
            "routes[0].services[1]",
            "'*' must stand alone: a catch-all route takes every other service",
            6,
        )
    ]


def test_maturity_model_must_be_known(tmp_path: Path) -> None:
    tenant = TOWN_A + "    maturity: {model: 3.0, level: 1}\n"
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(
            f"{T}/a.yaml", "routes[0].maturity.model", "Input should be '1.1' or '2.0'", 9
        )
    ]


def test_unquoted_maturity_model_is_accepted(tmp_path: Path) -> None:
    tenant = TOWN_A + "    maturity: {model: 2.0, level: 7}\n"
    route = load_deployment(write(tmp_path, {"a.yaml": tenant})).route("a", "gewerbe")
    assert route.maturity is not None
    assert (route.maturity.model, route.maturity.level) == ("2.0", 7)


def test_empty_retry_schedule_is_refused(tmp_path: Path) -> None:
    tenant = TOWN_A + "    retry_schedule: []\n"
    [problem] = problems(write(tmp_path, {"a.yaml": tenant}))
    assert (problem.field, problem.line) == ("routes[0].retry_schedule", 9)
    assert "at least 1 item" in problem.message


def test_source_cannot_be_set_in_a_file(tmp_path: Path) -> None:
    tenant = TOWN_A + "source: /etc/passwd\n"
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(f"{T}/a.yaml", "source", "unknown field (set by the loader)", 9)
    ]


# --- region -----------------------------------------------------------------------------------


def test_region_is_required(tmp_path: Path) -> None:
    tenant = TOWN_A.replace('ags: "05370004"\n', "")
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(f"{T}/a.yaml", "ags", "the tenant's region is missing: give ags or ars", 1)
    ]


def test_region_by_ars_derives_ags(tmp_path: Path) -> None:
    tenant = TOWN_A.replace('ags: "05370004"', 'ars: "053700004004"')
    deployment = load_deployment(write(tmp_path, {"a.yaml": tenant}))
    assert deployment.tenant("a").ags == "05370004"


def test_malformed_ars_is_reported_once(tmp_path: Path) -> None:
    tenant = TOWN_A.replace('ags: "05370004"', 'ars: "05370000400"')
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(f"{T}/a.yaml", "ars", "'05370000400' is not an ARS (12 digits)", 3)
    ]


def test_ags_and_ars_must_agree(tmp_path: Path) -> None:
    tenant = TOWN_A.replace('ags: "05370004"', 'ags: "05370004"\nars: "053700008008"')
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(
            f"{T}/a.yaml",
            "ars",
            "ars 053700008008 names municipality 05370008, but ags is 05370004: "
            "give one of them, or two that agree",
            4,
        )
    ]


def test_two_tenants_cannot_serve_one_region(tmp_path: Path) -> None:
    other = TOWN_A.replace("id: a", "id: b").replace('ags: "05370004"', 'ars: "053700004004"')
    # Reported on both files: the one just edited may sort first or last.
    assert problems(write(tmp_path, {"a.yaml": TOWN_A, "b.yaml": other})) == [
        ConfigProblem(
            f"{T}/a.yaml",
            "ags",
            f"region 05370004 / 053700004004 is also served by tenant 'b' ({T}/b.yaml)",
            3,
        ),
        ConfigProblem(
            f"{T}/b.yaml",
            "ars",
            f"region 05370004 / 053700004004 is also served by tenant 'a' ({T}/a.yaml)",
            3,
        ),
    ]


def test_duplicate_region_points_at_the_ags_line_when_only_ags_is_written(tmp_path: Path) -> None:
    other = TOWN_A.replace("id: a", "id: b")
    found = problems(write(tmp_path, {"a.yaml": TOWN_A, "b.yaml": other}))
    assert [(p.file, p.field, p.line) for p in found] == [
        (f"{T}/a.yaml", "ags", 3),
        (f"{T}/b.yaml", "ags", 3),
    ]


# --- ids and routes ---------------------------------------------------------------------------


def test_tenant_ids_are_unique_across_files(tmp_path: Path) -> None:
    other = TOWN_A.replace('ags: "05370004"', 'ags: "05370008"')
    assert problems(write(tmp_path, {"a.yaml": TOWN_A, "copy.yaml": other})) == [
        ConfigProblem(f"{T}/a.yaml", "id", f"tenant id 'a' is also used by {T}/copy.yaml", 1),
        ConfigProblem(f"{T}/copy.yaml", "id", f"tenant id 'a' is also used by {T}/a.yaml", 1),
    ]


def test_file_name_need_not_match_the_id(tmp_path: Path) -> None:
    deployment = load_deployment(write(tmp_path, {"stadt-a.yaml": TOWN_A}))
    assert deployment.tenant("a").source == tmp_path / "cfg" / "tenants" / "stadt-a.yaml"


def test_route_ids_are_unique_per_tenant(tmp_path: Path) -> None:
    tenant = TOWN_A + textwrap.indent(
        textwrap.dedent(
            """
            - id: gewerbe
              services: ["99115005104000"]
              connector: filedrop
              options: {directory: dropbox/a}
            """
        ).lstrip("\n"),
        "  ",
    )
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(
            f"{T}/a.yaml", "routes[1].id", "route id 'gewerbe' is already used by routes[0]", 9
        )
    ]


ROUTES_TWICE = """
id: a
name: Stadt A
ags: "05370004"
routes:
  - id: gewerbe
    services: ["99050012104000", "99050012070000"]
    connector: filedrop
    options: {directory: dropbox/a}
  - id: rest
    services: ["*"]
    connector: filedrop
    options: {directory: dropbox/a}
  - id: gewerbe-neu
    services: ["99050012071000", "99050012070000"]
    connector: filedrop
    options: {directory: dropbox/a}
  - id: sonst
    services: ["*"]
    connector: filedrop
    options: {directory: dropbox/a}
"""


def test_a_service_goes_to_one_route_and_there_is_one_catch_all(tmp_path: Path) -> None:
    f = f"{T}/a.yaml"
    assert problems(write(tmp_path, {"a.yaml": ROUTES_TWICE})) == [
        ConfigProblem(
            f,
            "routes[2].services[1]",
            "service 99050012070000 is already routed by routes[0] ('gewerbe'); "
            "a service goes to one route only",
            14,
        ),
        ConfigProblem(
            f,
            "routes[3].services[0]",
            "a second catch-all route: routes[1] ('rest') already takes every other service",
            18,
        ),
    ]


# --- connectors -------------------------------------------------------------------------------


WEBHOOK = """
id: a
name: Stadt A
ags: "05370004"
routes:
  - id: gewerbe
    services: ["99050012104000"]
    connector: filedrop
    options: {directory: dropbox/a}
  - id: melde
    services: ["99115005104000"]
    connector: webhook
    options:
      url: "http://melde.example"
      signing_secret: "${env:OZGB_TEST_SECRET}"
      retries: 3
  - id: hund
    services: ["99102013002000"]
    connector: carrier-pigeon
"""


def test_connector_kind_and_options_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OZGB_TEST_SECRET", "short")
    f = f"{T}/a.yaml"
    assert problems(write(tmp_path, {"a.yaml": WEBHOOK})) == [
        ConfigProblem(f, "routes[1].options.url", "must be an https:// URL", 13),
        ConfigProblem(
            f, "routes[1].options.signing_secret", "String should have at least 16 characters", 14
        ),
        ConfigProblem(
            f, "routes[1].options.retries", "unknown field (misspelt, or not supported here)", 15
        ),
        ConfigProblem(
            f,
            "routes[2].connector",
            "unknown connector kind 'carrier-pigeon' (known kinds: filedrop, webhook)",
            18,
        ),
    ]


def test_connector_checks_can_be_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OZGB_TEST_SECRET", "short")
    deployment = load_deployment(write(tmp_path, {"a.yaml": WEBHOOK}), check_connectors=False)
    assert deployment.route("a", "hund").connector == "carrier-pigeon"


def test_a_broken_connector_installation_is_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, type[Connector[Any]]]:
        raise ModuleNotFoundError("No module named 'connectors.http'")

    monkeypatch.setattr(connector_registry, "_registry", broken)
    town_b = TOWN_A.replace("id: a", "id: b").replace('"05370004"', '"05370008"')
    root = write(tmp_path, {"a.yaml": TOWN_A, "b.yaml": town_b})
    assert problems(root) == [
        ConfigProblem(
            "ozgbridge.connectors",
            "",
            "installed connectors cannot be loaded (ModuleNotFoundError: No module named "
            "'connectors.http'); no connector options were checked",
        )
    ]


# --- hierarchy --------------------------------------------------------------------------------


def test_parent_must_exist(tmp_path: Path) -> None:
    kreis = TOWN_A.replace("id: a", "id: kreis-x").replace('"05370004"', '"05370000"')
    town = TOWN_A.replace("name: Stadt A", "name: Stadt A\nparent: kreis-y")
    assert problems(write(tmp_path, {"a.yaml": town, "kreis.yaml": kreis})) == [
        ConfigProblem(
            f"{T}/a.yaml",
            "parent",
            "parent 'kreis-y' is not a tenant of this deployment (did you mean 'kreis-x'?)",
            3,
        )
    ]


def test_parent_is_checked_even_when_the_file_has_other_problems(tmp_path: Path) -> None:
    town = TOWN_A.replace('ags: "05370004"', "ags: 05370004\nparent: kreis")
    assert [(p.field, p.message) for p in problems(write(tmp_path, {"a.yaml": town}))] == [
        ("ags", "must be text, but YAML read it as a number: put the value in quotes"),
        ("parent", "parent 'kreis' is not a tenant of this deployment"),
    ]


def test_parents_cannot_form_a_cycle(tmp_path: Path) -> None:
    def tenant(tenant_id: str, ags: str, parent: str) -> str:
        return (
            TOWN_A.replace("id: a", f"id: {tenant_id}")
            .replace("05370004", ags)
            .replace("name: Stadt A", f"name: Stadt A\nparent: {parent}")
        )

    root = write(
        tmp_path,
        {
            "a.yaml": tenant("a", "05370004", "b"),
            "b.yaml": tenant("b", "05370008", "c"),
            "c.yaml": tenant("c", "05370012", "a"),
            "d.yaml": tenant("d", "05370016", "a"),
            "e.yaml": tenant("e", "05370020", "e"),
        },
    )
    assert problems(root) == [
        ConfigProblem(f"{T}/a.yaml", "parent", "parents form a cycle: a → b → c → a", 3),
        ConfigProblem(f"{T}/e.yaml", "parent", "a tenant cannot be its own parent", 3),
    ]


# --- delegation (Zuständigkeit) ---------------------------------------------------------------


KREIS = """
id: kreis
name: Kreis K
ags: "05370000"
routes:
  - id: kfz
    services: ["99036008007000"]
    connector: filedrop
    options: {directory: dropbox/kreis}
responsible_for:
  - services: ["99036008007000"]
    regions: children
"""


def test_children_needs_children(tmp_path: Path) -> None:
    assert problems(write(tmp_path, {"kreis.yaml": KREIS})) == [
        ConfigProblem(
            f"{T}/kreis.yaml",
            "responsible_for[0].regions",
            "'children', but no tenant has parent 'kreis'",
            11,
        )
    ]


def test_delegated_service_needs_a_route(tmp_path: Path) -> None:
    kreis = KREIS.replace(
        '- services: ["99036008007000"]', '- services: ["99036008007000", "99012008001000"]'
    )
    town = TOWN_A.replace("name: Stadt A", "name: Stadt A\nparent: kreis")
    assert problems(write(tmp_path, {"kreis.yaml": kreis, "a.yaml": town})) == [
        ConfigProblem(
            f"{T}/kreis.yaml",
            "responsible_for[0].services[1]",
            "no route of tenant 'kreis' takes service 99012008001000, "
            "so it could not deliver what it is responsible for",
            10,
        )
    ]


def test_a_catch_all_route_can_deliver_a_delegated_service(tmp_path: Path) -> None:
    kreis = KREIS.replace('["99036008007000"]\n    connector', '["*"]\n    connector')
    town = TOWN_A.replace("name: Stadt A", "name: Stadt A\nparent: kreis")
    deployment = load_deployment(write(tmp_path, {"kreis.yaml": kreis, "a.yaml": town}))
    assert deployment.children("kreis") == [deployment.tenant("a")]


def test_one_service_in_one_region_has_one_delegated_tenant(tmp_path: Path) -> None:
    town = TOWN_A.replace("name: Stadt A", "name: Stadt A\nparent: kreis")
    amt = (
        KREIS.replace("id: kreis", "id: amt")
        .replace("name: Kreis K", "name: Amt Z")
        .replace('"05370000"', '"05370012"')
        .replace("regions: children", 'regions: ["05370008", "053700004004"]')
    )
    assert problems(write(tmp_path, {"kreis.yaml": KREIS, "a.yaml": town, "amt.yaml": amt})) == [
        ConfigProblem(
            f"{T}/kreis.yaml",
            "responsible_for[0].regions",
            "service 99036008007000 in region 05370004 / 053700004004 (Stadt A) is delegated "
            f"to two tenants: 'amt' ({T}/amt.yaml) and 'kreis' ({T}/kreis.yaml)",
            11,
        )
    ]


def test_a_region_given_as_ags_overlaps_the_same_region_given_as_ars(tmp_path: Path) -> None:
    kreis = KREIS.replace("regions: children", 'regions: ["05370004"]')
    amt = (
        KREIS.replace("id: kreis", "id: amt")
        .replace('"05370000"', '"05370012"')
        .replace("regions: children", 'regions: ["05370008", "053700004004"]')
    )
    assert problems(write(tmp_path, {"kreis.yaml": kreis, "amt.yaml": amt})) == [
        ConfigProblem(
            f"{T}/kreis.yaml",
            "responsible_for[0].regions[0]",
            "service 99036008007000 in region 05370004 is delegated "
            f"to two tenants: 'amt' ({T}/amt.yaml) and 'kreis' ({T}/kreis.yaml)",
            11,
        )
    ]


def test_delegating_a_region_twice_within_one_tenant_is_reported(tmp_path: Path) -> None:
    kreis = KREIS.replace("regions: children", 'regions: ["05370004"]')
    kreis += '  - services: ["99036008007000"]\n    regions: ["053700004004"]\n'
    assert problems(write(tmp_path, {"kreis.yaml": kreis})) == [
        ConfigProblem(
            f"{T}/kreis.yaml",
            "responsible_for[1].regions[0]",
            "service 99036008007000 in region 05370004 / 053700004004 is delegated to this "
            "tenant twice",
            13,
        )
    ]


def test_delegated_regions_must_be_ags_or_ars(tmp_path: Path) -> None:
    kreis = KREIS.replace("regions: children", 'regions: ["05370004", "5370008"]')
    assert problems(write(tmp_path, {"kreis.yaml": kreis})) == [
        ConfigProblem(
            f"{T}/kreis.yaml",
            "responsible_for[0].regions[1]",
            "'5370008' is neither an AGS (8 digits) nor an ARS (12)",
            11,
        )
    ]


def test_delegated_regions_must_be_children_or_a_list(tmp_path: Path) -> None:
    kreis = KREIS.replace("regions: children", "regions: kinder")
    assert problems(write(tmp_path, {"kreis.yaml": kreis})) == [
        ConfigProblem(
            f"{T}/kreis.yaml",
            "responsible_for[0].regions",
            "must be 'children' or a non-empty list of AGS (8 digits) / ARS (12 digits)",
            11,
        )
    ]


# --- keys -------------------------------------------------------------------------------------


def test_key_rules(tmp_path: Path) -> None:
    same = token_sha256("same")
    keys = f"""
        keys:
          - {{id: portal, role: portal, sha256: "{same}"}}
          - {{id: portal, role: operator, sha256: "{token_sha256("other")}"}}
          - {{id: it-a, role: tenant, tenant: a, sha256: "{same}"}}
          - {{id: it-b, role: tenant, tenant: aa, sha256: "{token_sha256("b")}"}}
          - {{id: it-c, role: tenant, sha256: "{token_sha256("c")}"}}
          - {{id: coord, role: coordinator, tenant: a, sha256: "{token_sha256("d")}"}}
          - {{id: upper, role: operator, sha256: "{token_sha256("e").upper()}"}}
          - {{id: typo, role: admin, sha256: "{token_sha256("f")}", demo: true}}
        extra: 1
    """
    root = write(tmp_path, {"a.yaml": TOWN_A}, keys=keys)
    assert problems(root) == [
        ConfigProblem(KEYS_FILE, "keys[1].id", "key id 'portal' is already used by keys[0]", 3),
        ConfigProblem(
            KEYS_FILE, "keys[2].sha256", "same hash as keys[0]: every key needs its own token", 4
        ),
        ConfigProblem(
            KEYS_FILE,
            "keys[3].tenant",
            "tenant 'aa' is not a tenant of this deployment (did you mean 'a'?)",
            5,
        ),
        ConfigProblem(
            KEYS_FILE, "keys[4].tenant", "a key with role 'tenant' must name its tenant", 6
        ),
        ConfigProblem(
            KEYS_FILE,
            "keys[5].tenant",
            "only keys with role 'tenant' belong to a tenant (this one is coordinator)",
            7,
        ),
        ConfigProblem(
            KEYS_FILE,
            "keys[6].sha256",
            "must be a SHA-256 hash: 64 lowercase hexadecimal digits",
            8,
        ),
        ConfigProblem(
            KEYS_FILE,
            "keys[7].role",
            "Input should be 'portal', 'tenant', 'coordinator', 'operator' or 'metrics'",
            9,
        ),
        ConfigProblem(KEYS_FILE, "extra", "unknown field (misspelt, or not supported here)", 10),
    ]


def test_keys_file_needs_a_list(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yaml": TOWN_A}, keys="keys:\n  portal: abc\n")
    assert problems(root) == [
        ConfigProblem(KEYS_FILE, "keys", "must be a list of keys: keys: [...]", 1)
    ]


# --- all at once ------------------------------------------------------------------------------


def test_problems_from_all_files_are_reported_together_in_file_order(tmp_path: Path) -> None:
    broken_b = TOWN_A.replace("id: a", "id: b").replace('"05370004"', '"05370008"')
    broken_b = broken_b.replace("connector: filedrop", "connector: nope")
    root = write(
        tmp_path,
        {"b.yaml": broken_b, "a.yaml": TOWN_A.replace("name: Stadt A", "name: ''")},
        keys="keys: []\nfoo: 1\n",
    )
    found = [(p.file, p.field, p.line) for p in problems(root)]
    assert found == [
        (KEYS_FILE, "foo", 2),
        (f"{T}/a.yaml", "name", 2),
        (f"{T}/b.yaml", "routes[0].connector", 7),
    ]


# --- YAML anchors -----------------------------------------------------------------------------


def test_merge_keys_are_not_duplicates_and_problems_point_at_the_merged_line(
    tmp_path: Path,
) -> None:
    tenant = """
        id: a
        name: Stadt A
        ags: "05370004"
        routes:
          - &drop
            id: gewerbe
            services: ["99050012104000"]
            connector: filedrop
            options: {directory: dropbox/a}
          - <<: *drop
            id: melde
            services: ["99115005104000"]
          - <<: *drop
            id: hund
            services: ["99102013002000"]
            connector: pigeon
    """
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(
            f"{T}/a.yaml",
            "routes[2].connector",
            "unknown connector kind 'pigeon' (known kinds: filedrop, webhook)",
            16,
        )
    ]
    tenant = tenant.replace("            connector: pigeon\n", "")
    deployment = load_deployment(write(tmp_path / "fixed", {"a.yaml": tenant}))
    assert deployment.route("a", "melde").options == {"directory": "dropbox/a"}


def test_an_alias_loop_in_options_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    tenant = TOWN_A.replace("options: {directory: dropbox/a}", "options: &o {directory: *o}")
    assert problems(write(tmp_path, {"a.yaml": tenant})) == [
        ConfigProblem(
            f"{T}/a.yaml",
            "routes[0].options.directory",
            "refers to itself (YAML alias loop)",
            8,
        )
    ]
