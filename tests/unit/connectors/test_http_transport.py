"""The http connector's wire pieces that need no network: targets named in errors, proxies."""

from __future__ import annotations

import errno
import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from yarl import URL

from connectors.http import HttpConnector
from connectors.http.proxy import proxy_for
from connectors.http.transport import describe_target, transport_error
from ozgbridge.connector import ConnectorContext
from ozgbridge.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (
            "https://fachverfahren.example/api/antraege",
            "https://fachverfahren.example:443/api/antraege",
        ),
        ("http://fv.example/inbox", "http://fv.example:80/inbox"),
        ("https://user:geheim@fv.example:8443/in?token=geheim#frag", "https://fv.example:8443/in"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://fv.example", "https://fv.example:443/"),
        ("https://fv.example/a%20b", "https://fv.example:443/a%20b"),
    ],
)
def test_target_has_no_credentials_query_or_fragment(url: str, target: str) -> None:
    assert describe_target(URL(url)) == target


def test_long_target_is_cut() -> None:
    target = describe_target(URL("https://fv.example/" + "a" * 500))

    assert len(target) == 200
    assert target.endswith("…")


def _key() -> Any:
    # What aiohttp's connection errors carry about the connection (host, port, TLS).
    return SimpleNamespace(host="fv.example", port=443, is_ssl=True, ssl=True)


TARGET = "https://fv.example:443/in"


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (TimeoutError(), f"no answer from {TARGET} within 2.5 s"),
        (aiohttp.ConnectionTimeoutError(), f"no answer from {TARGET} within 2.5 s"),
        (
            aiohttp.ClientConnectorError(_key(), ConnectionRefusedError(errno.ECONNREFUSED, "x")),
            f"connection refused by {TARGET}",
        ),
        (
            aiohttp.ClientConnectorError(_key(), OSError(errno.ENETUNREACH, "x")),
            f"cannot connect to {TARGET}: Network is unreachable",
        ),
        (
            aiohttp.ClientConnectorDNSError(_key(), OSError(-2, "Name or service not known")),
            f"host name of {TARGET} cannot be resolved",
        ),
        (
            aiohttp.ClientProxyConnectionError(_key(), OSError(errno.ECONNREFUSED, "x")),
            f"cannot connect to the proxy for {TARGET}: Connection refused",
        ),
        (
            aiohttp.ClientConnectorCertificateError(
                _key(), ssl.SSLCertVerificationError(1, "certificate verify failed")
            ),
            f"TLS certificate of {TARGET} not accepted: SSLCertVerificationError",
        ),
        (aiohttp.ServerDisconnectedError(), f"{TARGET} closed the connection without an answer"),
        (aiohttp.ClientPayloadError("cut"), f"the answer from {TARGET} broke off"),
        (
            aiohttp.ClientOSError(errno.ECONNRESET, "reset"),
            f"connection to {TARGET} failed: Connection reset by peer",
        ),
        (aiohttp.ClientError("other"), f"ClientError talking to {TARGET}"),
    ],
)
def test_transport_errors_are_retriable_and_name_the_target(
    error: aiohttp.ClientError | TimeoutError, detail: str
) -> None:
    translated = transport_error(error, TARGET, 2.5)

    assert translated.retriable
    assert translated.detail == detail
    assert translated.status_code is None


BACKEND = URL("https://fv.example/in")
PLAIN = URL("http://fv.example/in")


@pytest.mark.parametrize(
    ("url", "environ", "proxy"),
    [
        (BACKEND, {}, None),
        (BACKEND, {"HTTPS_PROXY": "http://proxy:3128"}, "http://proxy:3128"),
        (BACKEND, {"https_proxy": "proxy:3128"}, "http://proxy:3128"),
        (BACKEND, {"HTTP_PROXY": "http://proxy:3128"}, None),
        (PLAIN, {"HTTP_PROXY": "http://proxy:3128"}, "http://proxy:3128"),
        (PLAIN, {"ALL_PROXY": "http://all:3128"}, "http://all:3128"),
        (BACKEND, {"ALL_PROXY": "http://all:3128", "HTTPS_PROXY": "http://s:1"}, "http://s:1"),
        (
            BACKEND,
            {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"},
            "http://lower:1",
        ),
        (BACKEND, {"HTTPS_PROXY": "http://upper:1", "https_proxy": ""}, None),
        (BACKEND, {"HTTPS_PROXY": "http://u:p@proxy:3128"}, "http://u:p@proxy:3128"),
        # CGI: HTTP_PROXY may come from a client's "Proxy:" header
        (PLAIN, {"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}, None),
        (PLAIN, {"http_proxy": "http://ok:1", "REQUEST_METHOD": "GET"}, "http://ok:1"),
    ],
)
def test_proxy_from_the_environment(url: URL, environ: dict[str, str], proxy: str | None) -> None:
    chosen = proxy_for(url, environ)

    assert (str(chosen) if chosen else None) == proxy


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("fv.example", "*", True),
        ("fv.example", "other.example, *", True),
        ("fv.example", "fv.example", True),
        ("FV.example", "fv.EXAMPLE", True),
        ("in.fv.example", "fv.example", True),
        ("notfv.example", "fv.example", False),
        ("fv.example", ".fv.example", False),
        ("in.fv.example", ".fv.example", True),
        ("fv.example", "fv.example:443", True),
        ("fv.example", "fv.example:8443", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "10.1.2.3", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("[::1]", "::1", True),
        ("[::1]", "[::1]:443", True),
        ("[2001:db8::5]", "2001:db8::/32", True),
        ("10.1.2.3", "fv.example", False),
        ("fv.example", "", False),
    ],
)
def test_no_proxy(host: str, no_proxy: str, bypassed: bool) -> None:
    url = URL(f"https://{host}/in")
    environ = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}

    assert (proxy_for(url, environ) is None) is bypassed


@pytest.mark.parametrize("value", ["socks5://proxy:1080", "https://proxy:3128"])
def test_unusable_proxy_is_refused_without_quoting_it(value: str) -> None:
    with pytest.raises(ValueError, match="HTTPS_PROXY is not usable") as caught:
        proxy_for(BACKEND, {"HTTPS_PROXY": value.replace("proxy", "user:geheim@proxy")})

    assert "geheim" not in str(caught.value)


def test_an_unusable_proxy_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:geheim@proxy:1080")
    context = ConnectorContext("heinsberg", "gewerbe", data_dir=Path("/srv"))

    with pytest.raises(ConfigError, match="route 'gewerbe': the proxy in HTTPS_PROXY") as caught:
        HttpConnector.from_config({"url": "https://fv.example/in"}, context=context, timeout=5)

    assert "geheim" not in str(caught.value)
