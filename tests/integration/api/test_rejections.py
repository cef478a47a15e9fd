"""Refused submissions: each answer is problem+json with a useful detail, and nothing is stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse

from tests.integration.api.support import (
    GEWERBEANMELDUNG,
    NOTHING_STORED,
    Api,
    StartApi,
    attachment,
    auth,
    body,
    token,
)


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    document: dict[str, Any] = await response.json(content_type="application/problem+json")
    assert document["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(document)
    return document


def fields(document: dict[str, Any]) -> dict[str, str]:
    return {error["field"]: error["message"] for error in document.get("errors", [])}


async def post(api: Api, document: Any, key: str = "portal-a", **kwargs: Any) -> ClientResponse:
    return await api.client.post("/v1/applications", json=document, headers=auth(key), **kwargs)


async def test_malformed_json(api_db: Api) -> None:
    response = await api_db.client.post(
        "/v1/applications",
        data=b'{"service": {"leikaKey": "99050012104000"},\n  "region": ',
        headers={**auth("portal-a"), "Content-Type": "application/json"},
    )

    document = await problem(response, 400)
    assert document["detail"].startswith("body is not valid JSON: line 2 column 12")
    assert document["instance"] == "/v1/applications"
    assert await api_db.stored() == NOTHING_STORED


async def test_wrong_content_type(api: Api) -> None:
    response = await api.client.post(
        "/v1/applications",
        data=json.dumps(body()).encode(),
        headers={**auth("portal-a"), "Content-Type": "text/plain"},
    )

    document = await problem(response, 415)
    assert "application/json" in document["detail"]
    assert response.headers["Accept-Post"] == "application/json"
    assert await api.stored() == NOTHING_STORED


@pytest.fixture
async def small_api(sqlite_url: str, start_api: StartApi) -> Api:
    return await start_api(sqlite_url, max_body_bytes=2048)


async def test_body_over_the_limit_by_content_length(small_api: Api) -> None:
    big = body(attachments=[attachment(content=b"x" * 4096)])

    response = await post(small_api, big)

    document = await problem(response, 413)
    assert document["detail"].endswith("the limit is 2048 bytes")
    assert await small_api.stored() == NOTHING_STORED


async def test_oversized_body_is_refused_before_it_is_sent(small_api: Api) -> None:
    """A client announcing 100 MB gets its 413 at once, without sending (or us reading) them."""
    reader, writer = await asyncio.open_connection(small_api.client.host, small_api.client.port)
    writer.write(
        b"POST /v1/applications HTTP/1.1\r\n"
        b"Host: localhost\r\n"
        + f"Authorization: Bearer {token('portal-a')}\r\n".encode()
        + b"Content-Type: application/json\r\n"
        b"Content-Length: 100000000\r\n\r\n"
        b'{"service": '
    )
    await writer.drain()
    try:
        async with asyncio.timeout(5):
            status_line = await reader.readline()
    finally:
        writer.close()

    assert status_line.startswith(b"HTTP/1.1 413 ")
    assert await small_api.stored() == NOTHING_STORED


async def test_chunked_body_over_the_limit(small_api: Api) -> None:
    raw = json.dumps(body(attachments=[attachment(content=b"x" * 4096)])).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 1000):
            yield raw[start : start + 1000]

    response = await small_api.client.post(
        "/v1/applications",
        data=chunks(),
        headers={**auth("portal-a"), "Content-Type": "application/json"},
    )

    await problem(response, 413)
    assert await small_api.stored() == NOTHING_STORED


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"service": {"leikaKey": "12345678901234"}}, "service.leikaKey", "not a LeiKa key"),
        ({"region": {"ars": "05370004400"}}, "region.ars", "not an ARS"),
        ({"region": {"ags": "5370004"}}, "region.ags", "not an AGS"),
        ({"region": {}}, "region", "exactly one of ars and ags"),
        ({"region": {"ars": "053700004004", "ags": "05370004"}}, "region", "exactly one"),
        ({"reference": "x" * 201}, "reference", "200"),
        ({"unexpected": 1}, "unexpected", "Extra inputs are not permitted"),
        (
            {"data": {"mimeType": "application/pdf", "content": {"a": 1}}},
            "data",
            "only for JSON mime types",
        ),
        (
            {"data": {"mimeType": "application/json", "content": {}, "contentBase64": "e30="}},
            "data",
            "exactly one of content and contentBase64",
        ),
        (
            {"data": {"mimeType": "application/xml", "contentBase64": "PGEvPg"}},
            "data.contentBase64",
            "not valid base64",
        ),
        (
            {"attachments": [{**attachment(), "contentBase64": "JVBER i0x"}]},
            "attachments[0].contentBase64",
            "not valid base64",
        ),
        (
            {"attachments": [attachment(), attachment("../../etc/passwd")]},
            "attachments[1].filename",
            "must not contain '/'",
        ),
        (
            {"attachments": [attachment("bescheid\u0000.pdf")]},
            "attachments[0].filename",
            "control characters (found U+0000)",
        ),
        ({"attachments": [attachment("..")]}, "attachments[0].filename", "'.' or '..'"),
        ({"attachments": [attachment("")]}, "attachments[0].filename", "must not be empty"),
        (
            {"attachments": [attachment("ä" * 128 + ".pdf")]},
            "attachments[0].filename",
            "at most 255 bytes",
        ),
        (
            {"attachments": [{**attachment(), "mimeType": "pdf"}]},
            "attachments[0].mimeType",
            "not a MIME type",
        ),
        (
            {"attachments": [{**attachment(), "mimeType": "application/pdf; x=\u0000"}]},
            "attachments[0].mimeType",
            "not a MIME type",
        ),
        ({"reference": "HS\u0000-1"}, "reference", "control characters (found U+0000)"),
        (
            {"service": {"leikaKey": GEWERBEANMELDUNG, "name": "Gewerbe\nanmeldung"}},
            "service.name",
            "control characters (found U+000A)",
        ),
        (
            {"data": {"mimeType": "application/json", "schemaUri": "urn:\u0000", "content": {}}},
            "data.schemaUri",
            "control characters",
        ),
    ],
)
async def test_invalid_fields(api: Api, change: dict[str, Any], field: str, says: str) -> None:
    response = await post(api, {**body(), **change})

    document = await problem(response, 422)
    assert says in fields(document)[field]
    assert document["detail"].startswith(f"{field}: ")
    assert await api.stored() == NOTHING_STORED


async def test_invalid_fields_on_both_engines(api_db: Api) -> None:
    response = await post(
        api_db,
        body(
            region={"ars": "0537000040"},
            attachments=[attachment("a/b.pdf")],
            reference="NUL\u0000",  # PostgreSQL could not even store it
        ),
    )

    document = await problem(response, 422)
    assert set(fields(document)) == {"region.ars", "attachments[0].filename", "reference"}
    assert await api_db.stored() == NOTHING_STORED


async def test_too_many_attachments(sqlite_url: str, start_api: StartApi) -> None:
    api = await start_api(sqlite_url, max_attachments=2)

    response = await post(api, body(attachments=[attachment(f"{n}.pdf") for n in range(3)]))

    document = await problem(response, 422)
    assert fields(document) == {
        "attachments": "at most 2 attachments are allowed per application (got 3)"
    }
    assert await api.stored() == NOTHING_STORED


@pytest.mark.parametrize(
    ("leika_key", "region", "region_text"),
    [
        (GEWERBEANMELDUNG, {"ars": "053150000000"}, "053150000000"),  # Köln: not served here
        ("99999999999999", {"ags": "05370004"}, "053700004004"),  # no route anywhere
    ],
)
async def test_unroutable_names_service_and_region(
    api_db: Api, leika_key: str, region: dict[str, str], region_text: str
) -> None:
    response = await post(api_db, body(leika_key=leika_key, region=region))

    document = await problem(response, 422)
    assert document["type"] == "urn:ozgbridge:problem:unroutable"
    assert leika_key in document["detail"]
    assert region_text in document["detail"]
    assert await api_db.stored() == NOTHING_STORED


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-known-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
)
async def test_no_or_unknown_token(api: Api, headers: dict[str, str]) -> None:
    response = await api.client.post("/v1/applications", json=body(), headers=headers)

    await problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await api.stored() == NOTHING_STORED


@pytest.mark.parametrize("key", ["operator", "erkelenz-staff", "coordinator"])
async def test_only_portals_submit(api: Api, key: str) -> None:
    response = await post(api, body(), key=key)

    document = await problem(response, 403)
    assert "may not submit" in document["detail"]
    assert await api.stored() == NOTHING_STORED


async def test_auth_is_checked_before_the_body(api: Api) -> None:
    response = await api.client.post("/v1/applications", data=b"{not json")

    await problem(response, 401)


@pytest.mark.parametrize("value", ["", "x" * 256, "schlüssel", "tab\there"])
async def test_malformed_idempotency_key(api: Api, value: str) -> None:
    headers = {**auth("portal-a"), "Idempotency-Key": value}
    response = await api.client.post(
        "/v1/applications",
        data=json.dumps(body()).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )

    document = await problem(response, 400)
    assert "Idempotency-Key" in document["detail"]
    assert await api.stored() == NOTHING_STORED


async def test_json_in_another_charset(api: Api) -> None:
    response = await api.client.post(
        "/v1/applications",
        data=json.dumps(body()).encode("utf-16"),
        headers={**auth("portal-a"), "Content-Type": "application/json; charset=utf-16"},
    )

    document = await problem(response, 415)
    assert "UTF-8" in document["detail"]
    assert await api.stored() == NOTHING_STORED


async def test_token_that_is_not_ascii(api: Api) -> None:
    reader, writer = await asyncio.open_connection(api.client.host, api.client.port)
    writer.write(
        b"GET /v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV HTTP/1.1\r\n"
        b"Host: localhost\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n"
    )
    try:
        async with asyncio.timeout(5):
            answer = await reader.read()
    finally:
        writer.close()

    assert answer.startswith(b"HTTP/1.1 401 ")
