"""Connection limits against a served instance, over raw sockets: slow heads (slowloris), slow
bodies, idle connections, idle keep-alive, and more connections than allowed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from tests.integration.api.support import auth
from tests.integration.hardening.served import Served, served

LIMITS = {
    "header_timeout": 1.0,
    "body_timeout": 1.0,
    "body_min_rate": 500.0,
    "keepalive_timeout": 1.0,
}
# Generous: two cores shared by several test runs.
SLACK = 6.0


@pytest.fixture
async def instance(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Served]:
    async with served(tmp_path, sqlite_url, **LIMITS) as running:
        yield running


def _timeouts(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "http.timeout"]


def _head(path: str = "/v1/applications", *, length: int, token: str = "portal-a") -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: bridge.test",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        f"Authorization: {auth(token)['Authorization']}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_head_trickled_line_by_line_gets_408_and_the_connection_closes(
    instance: Served,
) -> None:
    client = await instance.connect()
    started = time.monotonic()
    with capture_logs() as logs:
        await client.send(b"GET /healthz HTTP/1.1\r\nHost: bridge.test\r\n")

        async def trickle() -> None:
            # One more header line every 0.2 s: each one is progress, none completes the head.
            for number in range(100):
                await asyncio.sleep(0.2)
                try:
                    await client.send(f"X-Slow-{number}: 1\r\n".encode())
                except ConnectionError:
                    return

        trickler = asyncio.create_task(trickle())
        try:
            status, headers, body = await client.read_answer(LIMITS["header_timeout"] + SLACK)
        finally:
            trickler.cancel()
        assert await client.closed_by_server(SLACK)
    elapsed = time.monotonic() - started

    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff"
    assert json.loads(body)["status"] == 408
    assert elapsed >= LIMITS["header_timeout"]
    (line,) = _timeouts(logs)
    assert (line["phase"], line["client"]) == ("headers", "127.0.0.1")
    assert line["received_bytes"] > 0
    assert line["log_level"] == "warning"
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]


async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    instance: Served,
) -> None:
    client = await instance.connect()
    started = time.monotonic()
    with capture_logs() as logs:
        rest = await client.read_all(LIMITS["header_timeout"] + SLACK)
    elapsed = time.monotonic() - started

    assert rest == b""  # nothing was asked, so there is nothing to answer
    assert elapsed >= LIMITS["header_timeout"] * 0.9
    (line,) = _timeouts(logs)
    assert (line["phase"], line["client"], line["received_bytes"]) == ("headers", "127.0.0.1", 0)


async def test_a_trickled_body_gets_408_from_the_handler_and_nothing_is_stored(
    instance: Served,
) -> None:
    client = await instance.connect()
    length = 200_000
    with capture_logs() as logs:
        await client.send(_head(length=length))

        async def trickle() -> None:
            # 20 bytes every 0.2 s = 100 B/s, a fifth of the minimum rate.
            for _ in range(length // 20):
                try:
                    await client.send(b" " * 20)
                except ConnectionError:
                    return
                await asyncio.sleep(0.2)

        trickler = asyncio.create_task(trickle())
        try:
            status, headers, body = await client.read_answer(LIMITS["body_timeout"] + SLACK)
        finally:
            trickler.cancel()
        assert await client.closed_by_server(SLACK)

    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    document = json.loads(body)
    assert document["status"] == 408
    assert "did not arrive in time" in document["detail"]
    (line,) = _timeouts(logs)
    assert (line["phase"], line["client"]) == ("body", "127.0.0.1")
    assert 0 < line["received_bytes"] < length
    requests = [e for e in logs if e["event"] == "http.request"]
    assert [e["status"] for e in requests] == [408]
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]
    async with instance.service.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM applications"))).scalar() == 0


async def test_a_body_sent_slowly_but_above_the_minimum_rate_is_taken(instance: Served) -> None:
    document = json.dumps(
        {
            "service": {"leikaKey": "99050012104000"},
            "region": {"ars": "053700004004"},
            "data": {"mimeType": "application/json", "content": {"note": "x" * 2500}},
        }
    ).encode()
    client = await instance.connect()
    await client.send(_head(length=len(document)))
    # ~1,250 B/s for about two seconds: twice the body timeout, yet always ahead of the
    # deadline that each 500 bytes extend by a second.
    for start in range(0, len(document), 250):
        await client.send(document[start : start + 250])
        await asyncio.sleep(0.2)
    status, _headers, body = await client.read_answer(SLACK)

    assert status == 202, body
    await client.close()


async def test_an_idle_keep_alive_connection_is_closed(instance: Served) -> None:
    client = await instance.connect()
    await client.send(b"GET /healthz HTTP/1.1\r\nHost: bridge.test\r\n\r\n")
    status, headers, _body = await client.read_answer(SLACK)
    assert status == 200
    assert headers.get("connection", "keep-alive").lower() != "close"
    answered = time.monotonic()
    with capture_logs() as logs:
        assert await client.closed_by_server(LIMITS["keepalive_timeout"] + SLACK)
    assert time.monotonic() - answered >= LIMITS["keepalive_timeout"] * 0.9
    assert _timeouts(logs) == []  # an idle keep-alive ending is routine, not a timeout


async def test_a_keep_alive_connection_in_use_stays_open(instance: Served) -> None:
    client = await instance.connect()
    # Four requests, each within the keep-alive timeout of the last: all on one connection,
    # although together they take longer than any single timeout.
    for _ in range(4):
        await client.send(b"GET /healthz HTTP/1.1\r\nHost: bridge.test\r\n\r\n")
        status, _headers, _body = await client.read_answer(SLACK)
        assert status == 200
        await asyncio.sleep(0.5)
    await client.close()


async def test_connections_beyond_the_limit_are_refused_at_once(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with served(tmp_path, sqlite_url, max_connections=3, header_timeout=60) as instance:
        held = [await instance.connect() for _ in range(3)]
        # Each held connection is registered once its first request is answered.
        for client in held:
            await client.send(b"GET /healthz HTTP/1.1\r\nHost: bridge.test\r\n\r\n")
            assert (await client.read_answer(SLACK))[0] == 200

        with capture_logs() as logs:
            extra = await instance.connect()
            started = time.monotonic()
            status, headers, body = await extra.read_answer(SLACK)
            assert await extra.closed_by_server(SLACK)
        assert time.monotonic() - started < 2.0
        assert status == 503
        assert headers["retry-after"] == "1"
        assert "limit of 3 connections" in json.loads(body)["detail"]
        (refusal,) = [e for e in logs if e["event"] == "http.connection_refused"]
        assert (refusal["client"], refusal["max_connections"]) == ("127.0.0.1", 3)

        # A freed slot is usable again.
        await held.pop().close()
        for _ in range(50):
            await asyncio.sleep(0.1)
            again = await instance.connect()
            await again.send(b"GET /healthz HTTP/1.1\r\nHost: bridge.test\r\n\r\n")
            status, _headers, _body = await again.read_answer(SLACK)
            await again.close()
            if status == 200:
                break
        assert status == 200
        for client in held:
            await client.close()
