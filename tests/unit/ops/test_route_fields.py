"""The operations fields of a route in its YAML: defaults, and clear errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ozgbridge.errors import ConfigError
from ozgbridge.ops.admission import policies_of
from ozgbridge.tenant_models import BreakerConfig
from ozgbridge.tenants import load_deployment, token_sha256


def write(root: Path, **route: object) -> Path:
    (root / "tenants").mkdir(parents=True)
    tenant = {
        "id": "erkelenz",
        "name": "Stadt Erkelenz",
        "ags": "05370004",
        "routes": [{"id": "gewerbe", "services": ["*"], "connector": "filedrop",
                    "options": {"directory": "drop"}, **route}],
    }  # fmt: skip
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant, sort_keys=False))
    keys = {"keys": [{"id": "p", "role": "metrics", "sha256": token_sha256("t")}]}
    (root / "keys.yaml").write_text(yaml.safe_dump(keys))
    return root


def test_defaults(tmp_path: Path) -> None:
    deployment = load_deployment(write(tmp_path))

    [policy] = policies_of(deployment).values()

    assert policy.breaker == BreakerConfig(failures=5, cooldown=30, max_cooldown=600)
    assert (policy.max_in_flight, policy.rate_limit) == (None, None)
    assert deployment.keys[0].role == "metrics"


def test_configured_values(tmp_path: Path) -> None:
    deployment = load_deployment(
        write(tmp_path, breaker={"failures": 3, "cooldown": 10}, max_in_flight=2, rate_limit=0.5)
    )

    [policy] = policies_of(deployment).values()

    assert policy.breaker == BreakerConfig(failures=3, cooldown=10, max_cooldown=600)
    assert (policy.max_in_flight, policy.rate_limit) == (2, 0.5)


@pytest.mark.parametrize(
    ("route", "field", "message"),
    [
        ({"breaker": {"failures": 0}}, "routes[0].breaker.failures", "greater than or equal to 1"),
        ({"breaker": {"cooldown": 60, "max_cooldown": 30}}, "routes[0].breaker.max_cooldown",
         "must not be below cooldown"),
        ({"breaker": {"failurs": 3}}, "routes[0].breaker.failurs", ""),
        ({"max_in_flight": 0}, "routes[0].max_in_flight", "greater than or equal to 1"),
        ({"rate_limit": -1}, "routes[0].rate_limit", "greater than 0"),
    ],
)  # fmt: skip
def test_bad_values_name_file_line_and_field(
    tmp_path: Path, route: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_deployment(write(tmp_path, **route))

    [problem] = caught.value.problems
    assert problem.file.endswith("erkelenz.yaml")
    assert problem.line is not None
    assert problem.field == field
    assert message in problem.message
