"""Host and Origin syntax (RFC 9112 §3.2, RFC 3986, RFC 6454)."""

from __future__ import annotations

import pytest

from ozgbridge.api.sanity import host_ok, origin_ok


@pytest.mark.parametrize(
    "host",
    [
        "example.org",
        "example.org:8080",
        "127.0.0.1:80",
        "[::1]",
        "[2001:db8::1]:443",
        "a-b.c_d",
    ],
)
def test_valid_hosts(host: str) -> None:
    assert host_ok(host)


@pytest.mark.parametrize(
    "host",
    ["a b", "[::1", "[nope]", "example.org:99999", "example.org:80:80", "ex/ample", "a@b", "äx",
     "example.org:http", "[::1]80", "%zz", "", ":80"],
)  # fmt: skip
def test_invalid_hosts(host: str) -> None:
    assert not host_ok(host)


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("https://portal.example", True),
        ("http://127.0.0.1:8080", True),
        ("null", True),
        ("http://[", False),
        ("https://portal.example/path", False),
        ("portal.example", False),
        ("https://a b", False),
        ("https://x:99999", False),
    ],
)
def test_origins(origin: str, ok: bool) -> None:
    assert origin_ok(origin) is ok
