"""Headers on every answer of a served instance, and links that never come from ``Host``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.api.support import auth, body
from tests.integration.hardening.served import Served, served


@pytest.fixture
async def instance(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Served]:
    async with served(tmp_path, sqlite_url) as running:
        yield running


def assert_safe(headers: aiohttp.typedefs.LooseHeaders | dict[str, str]) -> None:
    lowered = {k.lower(): v for k, v in dict(headers).items()}
    assert lowered["x-content-type-options"] == "nosniff"
    assert lowered["referrer-policy"] in ("no-referrer", "same-origin")


async def test_every_answer_carries_the_security_headers(instance: Served) -> None:
    async with aiohttp.ClientSession(instance.url) as http:
        cases = [
            ("GET", "/healthz", {}, None, 200),
            ("GET", "/readyz", {}, None, 200),
            ("GET", "/v1/openapi.json", {}, None, 200),
            ("GET", "/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV", {}, None, 401),
            ("GET", "/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV", auth("operator"), None, 404),
            ("GET", "/nowhere", {}, None, 404),
            ("DELETE", "/healthz", {}, None, 405),
            ("POST", "/v1/applications", auth("portal-a"), body(), 202),
            ("POST", "/v1/applications", auth("portal-a"), {"service": 1}, 422),
            ("GET", "/v1/reports/ozg", auth("coordinator"), None, 200),
            ("GET", "/ui/login", {}, None, 200),
        ]
        for method, path, headers, document, status in cases:
            async with http.request(method, path, headers=headers, json=document) as answer:
                assert answer.status == status, (method, path, await answer.text())
                assert_safe(answer.headers)
                cache = answer.headers.get("Cache-Control")
                if path == "/v1/openapi.json":
                    assert cache is None  # public, the same for everyone
                else:
                    assert cache == "no-store", (method, path)
                if path.startswith("/v1/") and path != "/v1/openapi.json":
                    assert answer.headers["Referrer-Policy"] == "no-referrer"


async def test_an_answer_aiohttp_gives_itself_carries_them_too(instance: Served) -> None:
    client = await instance.connect()
    await client.send(b"GET /healthz HTTP/1.1\r\nHost: bridge.test\r\nBad Header\r\n\r\n")
    status, headers, _body = await client.read_answer(10)
    await client.close()

    assert status == 400
    assert_safe(headers)
    assert headers["cache-control"] == "no-store"


async def test_links_are_relative_and_ignore_the_host_header(instance: Served) -> None:
    async with aiohttp.ClientSession(instance.url) as http:
        headers = {
            **auth("portal-a"),
            "Host": "attacker.example",
            "X-Forwarded-Host": "attacker.example",
            "X-Forwarded-Proto": "https",
        }
        async with http.post("/v1/applications", json=body(), headers=headers) as answer:
            assert answer.status == 202
            document = await answer.json()
    link = f"/v1/applications/{document['id']}"
    assert document["links"]["self"] == link
    assert answer.headers["Location"] == link


async def test_links_use_the_public_url_when_it_is_set(tmp_path: Path, sqlite_url: str) -> None:
    public_url = "https://ozg.example.org/bridge/"
    async with (
        served(tmp_path, sqlite_url, public_url=public_url) as run,
        aiohttp.ClientSession(run.url) as http,
    ):
        headers = {**auth("portal-a"), "Host": "attacker.example"}
        async with http.post("/v1/applications", json=body(), headers=headers) as answer:
            document = await answer.json()
    link = f"https://ozg.example.org/bridge/v1/applications/{document['id']}"
    assert document["links"]["self"] == link
    assert answer.headers["Location"] == link
