"""The client address: the peer, or — from trusted proxies only — the rightmost untrusted hop."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from ozgbridge.api.clients import MAX_FORWARDED_HOPS, MalformedForwardedFor, client_address

PROXIES = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.1.2.3", ["203.0.113.7"], []) == "10.1.2.3"


def test_an_untrusted_peer_cannot_name_another_client() -> None:
    assert client_address("198.51.100.9", ["203.0.113.7"], PROXIES) == "198.51.100.9"


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    # The client wrote "1.2.3.4" itself; the proxy chain appended 203.0.113.7, then 10.0.0.2.
    forwarded = ["1.2.3.4, 203.0.113.7", "10.0.0.2"]
    assert client_address("10.0.0.1", forwarded, PROXIES) == "203.0.113.7"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    assert client_address("10.0.0.1", ["10.9.9.9, 10.0.0.2"], PROXIES) == "10.9.9.9"


def test_a_trusted_peer_without_header_is_the_client() -> None:
    assert client_address("10.0.0.1", [], PROXIES) == "10.0.0.1"


def test_ipv6_brackets_and_mapped_addresses() -> None:
    assert client_address("fd00::1", ["[2001:db8::5]"], PROXIES) == "2001:db8::5"
    assert client_address("::ffff:10.0.0.1", ["203.0.113.7"], PROXIES) == "203.0.113.7"


@pytest.mark.parametrize(
    "forwarded", [["not-an-ip"], ["203.0.113.7:443"], [", ".join(["10.0.0.3"] * 40)]]
)
def test_malformed_headers_from_trusted_proxies_are_refused(forwarded: list[str]) -> None:
    with pytest.raises(MalformedForwardedFor):
        client_address("10.0.0.1", forwarded, PROXIES)
    assert MAX_FORWARDED_HOPS < 40


def test_malformed_headers_from_untrusted_peers_are_ignored() -> None:
    assert client_address("198.51.100.9", ["not-an-ip"], PROXIES) == "198.51.100.9"
