"""Which addresses the allowed networks let through."""

from __future__ import annotations

import pytest

from ozgbridge.egress import ANYWHERE, EgressPolicy, EgressRefused, parse_networks

POLICY = EgressPolicy(parse_networks("10.20.0.0/16, 2001:db8::/32"))


def test_unset_allows_anything() -> None:
    assert not ANYWHERE.restricted
    assert ANYWHERE.allows("169.254.169.254")
    assert ANYWHERE.literal_problem("169.254.169.254") is None


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.20.3.4", True),
        ("10.21.0.1", False),
        ("169.254.169.254", False),  # cloud metadata service
        ("127.0.0.1", False),
        ("2001:db8::1", True),
        ("fd00::1", False),
        ("::ffff:169.254.169.254", False),  # the same address, IPv4-mapped
        ("::ffff:10.20.0.9", True),
        ("not-an-address", False),
    ],
)
def test_addresses(address: str, allowed: bool) -> None:
    assert POLICY.allows(address) is allowed


def test_literal_hosts_are_judged_and_names_are_left_for_delivery_time() -> None:
    assert POLICY.literal_problem("169.254.169.254") == (
        "169.254.169.254 is outside OZGBRIDGE_CONNECTOR_ALLOWED_NETWORKS"
    )
    assert POLICY.literal_problem("[fd00::1]") is not None
    assert POLICY.literal_problem("10.20.0.1") is None
    assert POLICY.literal_problem("metadata.google.internal") is None


def test_of_several_addresses_only_allowed_ones_remain() -> None:
    assert POLICY.check("fv.example", ["10.20.0.1", "192.0.2.1"]) == ["10.20.0.1"]
    with pytest.raises(EgressRefused, match=r"fv\.example \(192\.0\.2\.1\) is outside"):
        POLICY.check("fv.example", ["192.0.2.1"])


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not a network"):
        parse_networks("10.0.0.0/8, 10.0.0.0/33")
    assert parse_networks(" , ") == ()
