"""The HTTP connector against a real aiohttp back-end on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestServer

from connectors._signing import verify_signature
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from tests.contract.connector_contract import ConnectorContract
from tests.contract.factories import make_attachment, make_envelope
from tests.integration.connectors.http_backend import HttpBackend, http_connector

CURRENT = "whsec_" + base64.b64encode(b"current-secret-of-32-bytes-long!").decode()
PREVIOUS = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def backend() -> AsyncIterator[HttpBackend]:
    server = HttpBackend([CURRENT])
    await server.start()
    yield server
    await server.close()


class TestHttpContractJson(ConnectorContract):
    @pytest.fixture
    async def backend(self) -> AsyncIterator[HttpBackend]:
        server = HttpBackend([CURRENT], body_format="json")
        await server.start()
        yield server
        await server.close()


class TestHttpContractMultipart(ConnectorContract):
    @pytest.fixture
    async def backend(self) -> AsyncIterator[HttpBackend]:
        server = HttpBackend([CURRENT], body_format="multipart")
        await server.start()
        yield server
        await server.close()


@pytest.mark.parametrize("backend_knows", [CURRENT, PREVIOUS])
async def test_rotated_secrets_verify_with_either_key(backend_knows: str) -> None:
    server = HttpBackend([backend_knows])
    await server.start()
    try:
        connector = server.connector(signing_secret=[CURRENT, PREVIOUS])
        receipt = await connector.deliver(make_envelope())
    finally:
        await server.close()

    [request] = server.requests
    assert request.signature_valid is True
    assert receipt.status_code == 200
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)


async def test_wrong_secret_is_refused_by_the_back_end(backend: HttpBackend) -> None:
    connector = backend.connector(signing_secret=PREVIOUS)

    with pytest.raises(PermanentDeliveryError) as caught:
        await connector.deliver(make_envelope())

    assert caught.value.status_code == 401
    assert backend.requests[0].signature_valid is False


async def test_json_request_is_signed_over_the_exact_body(backend: HttpBackend) -> None:
    envelope = make_envelope()

    receipt = await backend.connector().deliver(envelope)

    [request] = backend.requests
    assert verify_signature(CURRENT, request.headers, request.body)
    assert not verify_signature(CURRENT, request.headers, request.body + b" ")
    assert json.loads(request.body) == envelope.to_json_document()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == envelope.delivery_id
    assert request.headers["idempotency-key"] == envelope.delivery_id
    assert request.headers["user-agent"].startswith("ozgbridge/")
    assert receipt.remote_reference == "FV-1"


async def test_multipart_reads_back_with_a_standard_parser() -> None:
    """aiohttp's own multipart reader sees the same parts, bytes and (UTF-8) filenames."""
    seen: list[tuple[str | None, str | None, str | None, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        reader = await request.multipart()
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            seen.append(
                (
                    part.name,
                    part.filename,
                    part.headers.get("Content-Type"),
                    bytes(await part.read()),
                )
            )
        return web.json_response({"reference": "AKZ-7"}, status=201)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    envelope = make_envelope(
        attachments=(
            make_attachment(),
            make_attachment(filename="Anlage Straße öffentlich.txt", mime_type="text/plain"),
        )
    )
    connector = http_connector(str(server.make_url("/")), format="multipart")
    try:
        receipt = await connector.deliver(envelope)
    finally:
        await connector.aclose()
        await server.close()

    assert receipt.remote_reference == "AKZ-7"
    assert receipt.status_code == 201
    assert [name for name, *_ in seen] == ["envelope", "data", "attachment", "attachment"]
    assert json.loads(seen[0][3]) == envelope.manifest()
    assert seen[1][1:] == ("data.json", "application/json", envelope.data.content)
    assert seen[2][1:] == (
        "Personalausweis Erika Mustermann.pdf",
        "application/pdf",
        envelope.attachments[0].content,
    )
    assert seen[3][1:] == (
        "Anlage Straße öffentlich.txt",
        "text/plain",
        envelope.attachments[1].content,
    )


async def test_503_then_200_keeps_the_delivery_id(backend: HttpBackend) -> None:
    envelope = make_envelope()
    connector = backend.connector()
    backend.answer(503)

    with pytest.raises(RetriableDeliveryError) as caught:
        await connector.deliver(envelope)
    receipt = await connector.deliver(envelope.model_copy(update={"attempt": 2}))

    assert (caught.value.status_code, caught.value.detail) == (503, "HTTP 503 from back-end")
    assert caught.value.retry_after is None
    assert receipt.status_code == 200
    assert [r.headers["idempotency-key"] for r in backend.requests] == [envelope.delivery_id] * 2
    assert [r.answered for r in backend.requests] == [503, 200]


async def test_400_is_permanent_and_hides_the_answer(backend: HttpBackend) -> None:
    backend.answer(400, json_body={"error": "Nachname Mustermann ungültig"})

    with pytest.raises(PermanentDeliveryError) as caught:
        await backend.connector().deliver(make_envelope())

    assert (caught.value.status_code, caught.value.detail) == (400, "HTTP 400 from back-end")


async def test_429_with_retry_after(backend: HttpBackend) -> None:
    backend.answer(429, headers={"Retry-After": "42"})

    with pytest.raises(RetriableDeliveryError) as caught:
        await backend.connector().deliver(make_envelope())

    assert caught.value.status_code == 429
    assert caught.value.retry_after == 42.0


async def test_hanging_back_end_times_out_as_retriable(backend: HttpBackend) -> None:
    connector = backend.connector(timeout=0.3)

    async with backend.stalled():
        with pytest.raises(RetriableDeliveryError) as caught:
            await connector.deliver(make_envelope())

    assert "0.3 s" in caught.value.detail
    assert len(backend.requests) == 1  # it did arrive; the answer never came


async def test_connection_refused_is_retriable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    connector = http_connector(f"http://127.0.0.1:{port}/deliveries")
    try:
        with pytest.raises(RetriableDeliveryError) as caught:
            await connector.deliver(make_envelope())
    finally:
        await connector.aclose()

    assert caught.value.detail == "ConnectError talking to the back-end"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_static_headers_are_sent(backend: HttpBackend) -> None:
    connector = backend.connector(headers={"X-Api-Key": "k-123"})

    await connector.deliver(make_envelope())

    assert backend.requests[0].headers["x-api-key"] == "k-123"
    assert "k-123" not in repr(connector.options)


async def test_one_connection_pool_is_reused_and_closed(backend: HttpBackend) -> None:
    connector = backend.connector()
    await connector.deliver(make_envelope())
    client = connector._client
    await connector.deliver(make_envelope())

    assert client is not None
    assert connector._client is client
    await connector.aclose()
    assert client.is_closed


async def test_compressed_answer_is_decoded_once() -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        response = web.json_response({"id": "FV-gz"}, status=201)
        response.enable_compression(web.ContentCoding.gzip)
        return response

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    connector = http_connector(str(server.make_url("/")))
    try:
        receipt = await connector.deliver(make_envelope())
    finally:
        await connector.aclose()
        await server.close()

    assert receipt.remote_reference == "FV-gz"
