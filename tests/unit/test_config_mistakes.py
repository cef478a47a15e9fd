"""The mistakes an operator made adding a Kreis and a town from scratch, each caught with file:line.

One test per mistake of issue 14 ("Why"); the municipality directory and the LeiKa catalogue are
the ones shipped with ozgbridge.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ozgbridge.errors import ConfigError, ConfigProblem
from ozgbridge.tenants import DeliveryLimits, load_deployment, token_sha256

T = "cfg/tenants"

KEYS = f"""
keys:
  - {{id: portal, role: portal, sha256: "{token_sha256("portal-token")}"}}
  - {{id: hs-it, role: tenant, tenant: heinsberg, sha256: "{token_sha256("hs-token")}"}}
"""

KREIS = """
id: kreis-heinsberg
name: Kreis Heinsberg
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

TOWN = """
id: heinsberg
name: Stadt Heinsberg
ags: "05370016"
parent: kreis-heinsberg
routes:
  - id: gewerbe
    services: ["99050012104000"]
    connector: filedrop
    options: {directory: dropbox/heinsberg}
"""


def write(tmp_path: Path, tenants: dict[str, str], keys: str = KEYS) -> Path:
    root = tmp_path / "cfg"
    (root / "tenants").mkdir(parents=True)
    for name, text in tenants.items():
        (root / "tenants" / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    (root / "keys.yaml").write_text(textwrap.dedent(keys).lstrip("\n"), encoding="utf-8")
    return root


def errors(root: Path, **options: object) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_deployment(root, **options)  # type: ignore[arg-type]
    return info.value.problems


def test_the_example_kreis_is_clean(tmp_path: Path) -> None:
    deployment = load_deployment(write(tmp_path, {"kreis.yaml": KREIS, "hs.yaml": TOWN}))
    assert deployment.warnings == ()


def test_an_ags_that_does_not_exist(tmp_path: Path) -> None:
    town = TOWN.replace('"05370016"', '"05370017"')
    assert errors(write(tmp_path, {"kreis.yaml": KREIS, "hs.yaml": town})) == [
        ConfigProblem(
            f"{T}/hs.yaml",
            "ags",
            "region 05370017 / 053700017017 does not exist (Gemeindeverzeichnis GV-ISys, "
            "Gebietsstand 30.11.2023); 'Stadt Heinsberg' is Gemeinde 05370016 (Heinsberg, "
            "Stadt), ARS 053700016016",
            3,
        )
    ]


def test_an_ars_that_does_not_exist(tmp_path: Path) -> None:
    town = TOWN.replace('ags: "05370016"', 'ars: "053700016099"').replace("Stadt Heinsberg", "X")
    [problem] = errors(write(tmp_path, {"kreis.yaml": KREIS, "hs.yaml": town}))
    assert (problem.field, problem.line) == ("ars", 3)
    assert problem.message.startswith("region 05370099 / 053700016099 does not exist")
    assert problem.message.endswith("it would lie in Kreis 05370 (Heinsberg)")


def test_a_town_whose_ags_lies_in_another_kreis_than_its_parent(tmp_path: Path) -> None:
    # Ascheberg is in Kreis Coesfeld, not in Kreis Heinsberg.
    town = TOWN.replace('"05370016"', '"05558004"').replace("Stadt Heinsberg", "Ascheberg")
    assert errors(write(tmp_path, {"kreis.yaml": KREIS, "hs.yaml": town})) == [
        ConfigProblem(
            f"{T}/hs.yaml",
            "parent",
            "parent 'kreis-heinsberg' is Kreis 05370 (Heinsberg), but this tenant's region, "
            "Gemeinde 05558004 (Ascheberg), lies in Kreis 05558 (Coesfeld): the parent must be "
            "the Kreis (or Gemeindeverband) its region lies in",
            4,
        )
    ]


def test_a_leika_key_nobody_knows_is_a_warning(tmp_path: Path) -> None:
    town = TOWN.replace('"99050012104000"', '"99999999999999"')
    deployment = load_deployment(write(tmp_path, {"kreis.yaml": KREIS, "hs.yaml": town}))
    assert list(deployment.warnings) == [
        ConfigProblem(
            f"{T}/hs.yaml",
            "routes[0].services[0]",
            "service 99999999999999 is not in the LeiKa catalogue shipped with ozgbridge (KDN "
            "OZG-Datenbank NRW 2019): check the key; a newer catalogue may know it",
            7,
            "warning",
        )
    ]


def test_a_name_that_names_another_place_is_a_warning(tmp_path: Path) -> None:
    town = TOWN.replace("Stadt Heinsberg", "Stadt Erkelenz")
    [warning] = load_deployment(write(tmp_path, {"kreis.yaml": KREIS, "hs.yaml": town})).warnings
    assert (warning.field, warning.line, warning.severity) == ("name", 2, "warning")
    assert "does not look like the name of Gemeinde 05370016 (Heinsberg, Stadt)" in str(warning)


def test_a_region_outside_the_shipped_directory_is_a_warning(tmp_path: Path) -> None:
    # Bayern is not in the shipped directory: it cannot tell whether 09162000 exists.
    munich = 'id: muenchen\nname: München\nags: "09162000"\nroutes: []\n'
    deployment = load_deployment(write(tmp_path, {"m.yaml": munich}, keys="keys: []\n"))
    [warning] = deployment.warnings
    assert warning.severity == "warning"
    assert warning.field == "ags"
    assert "Land 09 is not in the shipped municipality directory" in warning.message


def test_a_route_timeout_serve_would_refuse(tmp_path: Path) -> None:
    town = TOWN + "    timeout: 500\n"
    limits = DeliveryLimits(delivery_timeout=30, lease_seconds=120)
    [problem] = errors(write(tmp_path, {"kreis.yaml": KREIS, "hs.yaml": town}), limits=limits)
    assert str(problem) == (
        f"{T}/hs.yaml:10: routes[0].timeout: timeout 500 s must be shorter than "
        "OZGBRIDGE_LEASE_SECONDS (120 s): a slower attempt would outlive its lease and be sent "
        "twice"
    )


def test_a_problem_without_a_file_does_not_start_with_a_colon() -> None:
    assert str(ConfigProblem("", "", "lease too short")) == "lease too short"
    assert str(ConfigError("lease too short")) == "lease too short"


def test_a_parse_error_causes_no_follow_on_errors_in_other_files(tmp_path: Path) -> None:
    # The town's file is broken: keys.yaml's key for it and the Kreis's "children" must not be
    # reported as well, nor anything else that only repeats the one problem.
    broken = TOWN.replace("routes:", "routes: [")
    found = errors(write(tmp_path, {"kreis.yaml": KREIS, "heinsberg.yaml": broken}))
    assert [p.file for p in found] == [f"{T}/heinsberg.yaml"]
    assert found[0].line is not None
    assert found[0].message.startswith("invalid YAML")


def test_a_file_named_otherwise_is_still_recognised_by_its_id_line(tmp_path: Path) -> None:
    broken = "id: heinsberg\nname: [\n"
    other = TOWN.replace("id: heinsberg", "id: wegberg").replace('"05370016"', '"05370040"')
    other = other.replace("Stadt Heinsberg", "Stadt Wegberg").replace("parent", "# parent")
    found = errors(write(tmp_path, {"kreis.yaml": KREIS, "stadt.yaml": broken, "w.yaml": other}))
    assert [p.file for p in found] == [f"{T}/stadt.yaml"]


def test_a_duplicate_ags_is_reported_on_both_files(tmp_path: Path) -> None:
    # The operator copied heinsberg.yaml to start a new town and forgot to change the AGS:
    # the error must reach the new file, not only the untouched one.
    copy = TOWN.replace("id: heinsberg", "id: waldfeucht").replace("Stadt Heinsberg", "Waldfeucht")
    found = errors(write(tmp_path, {"kreis.yaml": KREIS, "heinsberg.yaml": TOWN, "w.yaml": copy}))
    assert [(p.file, p.field, p.line) for p in found] == [
        (f"{T}/heinsberg.yaml", "ags", 3),
        (f"{T}/w.yaml", "ags", 3),
    ]
    assert found[1].message == (
        f"region 05370016 / 053700016016 is also served by tenant 'heinsberg' ({T}/heinsberg.yaml)"
    )
