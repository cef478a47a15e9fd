"""What the client got wrong is answered as such — 400, no session, 499 — never with a 500.

Each request is written byte by byte (aiohttp's own client refuses to send most of them) to the
app served as ``ozgbridge serve`` serves it, over a real socket; no request may leave an
``http.unhandled_error`` behind."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ozgbridge.ui.sessions import COOKIE
from tests.integration.api.production import Served, serve
from tests.integration.api.rawhttp import exchange, get, post
from tests.integration.api.support import NOTHING_STORED, body, token, write_config

SECRET = "test-session-secret-0123456789abcdef"
SID = "01J00000000000000000000000"
H = b"Host: 127.0.0.1"


@pytest.fixture
async def served(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    config = write_config(tmp_path / "config")
    settings = {"ui_session_secret": SECRET, "trusted_proxies": ["127.0.0.1"]}
    async with serve(sqlite_url, config, **settings) as running:
        yield running


def port_of(served: Served) -> int:
    return served.port


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_cookie(claims: str) -> str:
    """A cookie signed with the server's secret (an insider's forgery: the strictest case)."""
    payload = _b64(claims.encode())
    mac = hmac.new(SECRET.encode(), f"session|{payload}".encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def no_unhandled_errors(logs: list[MutableMapping[str, Any]]) -> None:
    assert [e for e in logs if e["event"] == "http.unhandled_error"] == []
    assert all(e.get("status") != 500 for e in logs if e["event"] == "http.request")


async def test_forged_cookies_with_infinite_expiry_are_no_session(served: Served) -> None:
    port = port_of(served)
    # The review's cookie: unsigned, expiry Infinity. And the same claims correctly signed.
    unsigned = _b64(b'{"k":"operator","e":Infinity}') + "." + "A" * 43
    inside = signed_cookie(f'{{"s":"{SID}","k":"operator","e":Infinity,"h":"x"}}')
    huge = signed_cookie(f'{{"s":"{SID}","k":"operator","e":1e999,"h":"x"}}')

    with capture_logs() as logs:
        answers = [
            await exchange(port, get("/ui/", H, f"Cookie: {COOKIE}={cookie}".encode()))
            for cookie in (unsigned, inside, huge, "%%%", "a.b.c", "x" * 4000)
        ]

    assert [a.status for a in answers] == [303] * 6
    assert {a.headers["location"] for a in answers} == {"/ui/login"}
    no_unhandled_errors(logs)


@pytest.mark.parametrize(
    ("request_bytes", "named"),
    [
        (get("/healthz", b"Host: a b"), "Host"),
        (post("/v1/applications", b"{}", b"Host: "), "Host"),
        (get("/healthz", b"Host: [::1"), "Host"),
        (get("/healthz", b"Host: example.org:99999"), "Host"),
        (get("/healthz", b"Host: \xe4x.example"), "Host"),
        (get("/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV", b"Host: bad host"), "Host"),
        (get("/ui/", H, b"Cookie: ozgb_ui=\xff\xfe.x"), "Cookie"),
        (get("/healthz", H, b"X-Forwarded-For: not-an-address"), "X-Forwarded-For"),
        (get("/healthz", H, b"Origin: http://["), "Origin"),
        (post("/ui/login", b"token=x", H, b"Origin: http://[", b"Content-Type: "
              b"application/x-www-form-urlencoded"), "Origin"),
    ],
)  # fmt: skip
async def test_malformed_headers_get_400_naming_them(
    served: Served, request_bytes: bytes, named: str
) -> None:
    with capture_logs() as logs:
        answer = await exchange(port_of(served), request_bytes)

    assert answer.status == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert named in answer.json()["detail"]
    no_unhandled_errors(logs)


async def test_a_request_without_host_or_with_two_is_refused(served: Served) -> None:
    # HTTP/1.1 without Host, or with two: RFC 9112 §3.2 demands 400 (aiohttp's parser answers).
    missing = await exchange(port_of(served), b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    twice = await exchange(port_of(served), get("/healthz", H, b"Host: other"))

    assert missing.status == 400
    assert twice.status == 400


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/x-www-form-urlencoded; charset=no-such-charset",
        b"multipart/form-data",  # no boundary
        b"multipart/form-data; boundary=zzz",  # a body that is no multipart at all
    ],
)
async def test_broken_forms_get_400(served: Served, content_type: bytes) -> None:
    with capture_logs() as logs:
        answer = await exchange(
            port_of(served),
            post("/ui/login", b"token=%E4%FF", H, b"Content-Type: " + content_type),
        )

    assert answer.status == 400
    assert b"fehlerhaft" in answer.body
    no_unhandled_errors(logs)


async def _access_line(logs: list[MutableMapping[str, Any]], path: str) -> MutableMapping[str, Any]:
    # The server logs the line when it notices the closed connection: await it, bounded.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [e for e in logs if e["event"] == "http.request" and e["path"] == path]
        if lines:
            return lines[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no access log line for {path}: {logs}")


async def test_a_client_that_leaves_mid_upload_is_logged_as_499(served: Served) -> None:
    document = json.dumps(body()).encode()
    head = (
        b"POST /v1/applications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {token('portal-a')}\r\n".encode()
        + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
        + f"Content-Length: {len(document) + 1_000_000}\r\n\r\n".encode()
    )
    with capture_logs() as logs:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(served))
        writer.write(head)
        # "100 Continue": the server has dispatched the request and waits for the body.
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert interim.startswith(b"HTTP/1.1 100")
        writer.write(document[:200])
        await writer.drain()
        writer.transport.abort()  # gone, as a client whose network dropped
        line = await _access_line(logs, "/v1/applications")

    assert line["status"] == 499
    assert line["error"] == "client_closed"
    assert line["client"] == "127.0.0.1"
    assert line["key_id"] == "portal-a"
    no_unhandled_errors(logs)
    assert await served.stored() == NOTHING_STORED
    reader.feed_eof()
