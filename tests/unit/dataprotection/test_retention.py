"""Which retention applies to a route: route over tenant over settings, field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ozgbridge.dataprotection.retention import RetentionPolicy, group_by_policy, policy_for
from ozgbridge.domain import ApplicationStatus
from ozgbridge.errors import ConfigError
from ozgbridge.tenants import Deployment, load_deployment, token_sha256

DEFAULTS = RetentionPolicy(delivered_days=7, dead_days=30)


def deployment(tmp_path: Path, **retention: dict[str, object]) -> Deployment:
    """Tenant ``a`` (routes r1, r2) and ``b`` (route r1); ``retention`` keyed a, a/r1, b/r1 …"""
    (tmp_path / "tenants").mkdir()
    for tenant, ags in (("a", "05370004"), ("b", "05370008")):
        document: dict[str, object] = {
            "id": tenant,
            "name": tenant.upper(),
            "ags": ags,
            "routes": [
                {
                    "id": route,
                    "services": ["*"] if route == "r1" else ["99050012104000"],
                    "connector": "filedrop",
                    "options": {"directory": f"drop/{tenant}"},
                    **(
                        {"retention": retention[f"{tenant}/{route}"]}
                        if f"{tenant}/{route}" in retention
                        else {}
                    ),
                }
                for route in (("r1", "r2") if tenant == "a" else ("r1",))
            ],
        }
        if tenant in retention:
            document["retention"] = retention[tenant]
        (tmp_path / "tenants" / f"{tenant}.yaml").write_text(yaml.safe_dump(document))
    keys = {"keys": [{"id": "p", "role": "portal", "sha256": token_sha256("t")}]}
    (tmp_path / "keys.yaml").write_text(yaml.safe_dump(keys))
    return load_deployment(tmp_path)


def test_route_over_tenant_over_settings_field_by_field(tmp_path: Path) -> None:
    d = deployment(tmp_path, a={"delivered_days": 1, "dead_days": 90}, **{"a/r2": {"dead_days": 0}})

    assert policy_for(d, DEFAULTS, "a", "r1") == RetentionPolicy(1, 90)
    assert policy_for(d, DEFAULTS, "a", "r2") == RetentionPolicy(1, 0)
    assert policy_for(d, DEFAULTS, "b", "r1") == DEFAULTS
    # no longer configured: what is left applies
    assert policy_for(d, DEFAULTS, "a", "gone") == RetentionPolicy(1, 90)
    assert policy_for(d, DEFAULTS, "gone", "r1") == DEFAULTS


def test_routes_are_grouped_by_their_policy(tmp_path: Path) -> None:
    d = deployment(tmp_path, **{"a/r2": {"delivered_days": 0}})

    groups = group_by_policy(d, DEFAULTS, [("b", "r1"), ("a", "r2"), ("a", "r1"), ("a", "r1")])

    assert groups == {
        RetentionPolicy(0, 30): [("a", "r2")],
        DEFAULTS: [("a", "r1"), ("b", "r1")],
    }


def test_finished_before_per_status() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    policy = RetentionPolicy(delivered_days=0, dead_days=30)
    assert policy.finished_before(ApplicationStatus.DELIVERED, now) == now
    assert policy.finished_before(ApplicationStatus.DEAD, now) == now - timedelta(days=30)


@pytest.mark.parametrize(
    ("retention", "message"),
    [
        ({"delivered_days": -1}, "greater than or equal to 0"),
        ({"dead_days": 5000}, "less than or equal to 3650"),
        ({"keep_days": 3}, "unknown field"),
    ],
)
def test_invalid_retention_is_located(
    tmp_path: Path, retention: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        deployment(tmp_path, **{"a/r1": retention})
    assert "a.yaml" in str(raised.value)
    assert "routes[0].retention" in str(raised.value)
    assert message in str(raised.value)
