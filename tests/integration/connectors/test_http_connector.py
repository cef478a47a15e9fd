"""The HTTP connector against a real aiohttp back-end on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestServer

from connectors._signing import verify_signature
from connectors.http import HttpAnswer, HttpConnector
from ozgbridge.connector import Receipt
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.contract import ConnectorContract
from ozgbridge.testing.factories import PERSONAL_DATA, make_attachment, make_envelope
from tests.integration.connectors.http_backend import (
    CONTEXT,
    Answer,
    HttpBackend,
    http_connector,
    target,
)

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
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    assert int(request.headers["content-length"]) == len(request.body)
    assert "cookie" not in request.headers
    assert receipt.remote_reference == "FV-1"


async def test_unsigned_when_no_secret() -> None:
    server = HttpBackend()
    await server.start()
    try:
        await server.connector().deliver(make_envelope())
    finally:
        await server.close()

    [request] = server.requests
    assert "webhook-signature" not in request.headers
    assert request.headers["webhook-id"] == request.headers["idempotency-key"]


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

    assert (caught.value.status_code, caught.value.detail) == (
        503,
        f"HTTP 503 from {target(backend)}",
    )
    assert caught.value.retry_after is None
    assert receipt.status_code == 200
    assert [r.headers["idempotency-key"] for r in backend.requests] == [envelope.delivery_id] * 2
    assert [r.answered for r in backend.requests] == [503, 200]


async def test_400_keeps_the_answer_apart_from_the_detail(backend: HttpBackend) -> None:
    backend.answer(400, json_body={"error": "Nachname Mustermann ungültig"})

    with pytest.raises(PermanentDeliveryError) as caught:
        await backend.connector().deliver(make_envelope())

    assert (caught.value.status_code, caught.value.detail) == (
        400,
        f"HTTP 400 from {target(backend)}",
    )
    assert caught.value.response_excerpt == '{"error": "Nachname Mustermann ung\\u00fcltig"}'
    assert not any(word in str(caught.value) for word in PERSONAL_DATA)


async def test_excerpt_is_the_first_kilobyte_of_a_long_answer(backend: HttpBackend) -> None:
    backend.answers.append(Answer(500, {"Content-Type": "text/plain"}, b"Fehler " * 1000))

    with pytest.raises(RetriableDeliveryError) as caught:
        await backend.connector().deliver(make_envelope())

    assert caught.value.response_excerpt == ("Fehler " * 1000)[:1024]


async def test_an_override_that_refuses_a_2xx_keeps_the_excerpt(backend: HttpBackend) -> None:
    class AcceptFlag(HttpConnector):
        def classify_response(self, response: HttpAnswer) -> Receipt:
            if response.json().get("accepted") is False:
                raise PermanentDeliveryError("back-end rejected the application", status_code=200)
            return super().classify_response(response)

    backend.answer(200, json_body={"accepted": False, "reason": "Mustermann unbekannt"})
    custom = AcceptFlag(backend.connector().options, context=CONTEXT, timeout=5)
    try:
        with pytest.raises(PermanentDeliveryError) as caught:
            await custom.deliver(make_envelope())
    finally:
        await custom.aclose()

    assert caught.value.response_excerpt == '{"accepted": false, "reason": "Mustermann unbekannt"}'


async def test_a_2xx_has_no_excerpt_to_keep(backend: HttpBackend) -> None:
    backend.answer(204)

    receipt = await backend.connector().deliver(make_envelope())

    assert (receipt.status_code, receipt.remote_reference) == (204, None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("42", 42.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), ("-1", None)],
)
async def test_429_with_retry_after(
    backend: HttpBackend, value: str, seconds: float | None
) -> None:
    backend.answer(429, headers={"Retry-After": value})

    with pytest.raises(RetriableDeliveryError) as caught:
        await backend.connector().deliver(make_envelope())

    assert caught.value.status_code == 429
    assert caught.value.retry_after == seconds


async def test_hanging_back_end_times_out_as_retriable(backend: HttpBackend) -> None:
    connector = backend.connector(timeout=0.3)

    async with backend.stalled():
        with pytest.raises(RetriableDeliveryError) as caught:
            await connector.deliver(make_envelope())
        # The request was sent; on a busy machine the server (in this same loop) may record it
        # only after the client gave up.
        await backend.wait_for_requests(1)

    assert caught.value.detail == f"no answer from {target(backend)} within 0.3 s"
    assert len(backend.requests) == 1  # it did arrive; the answer never came


async def test_static_headers_are_sent(backend: HttpBackend) -> None:
    connector = backend.connector(headers={"X-Api-Key": "k-123"})

    await connector.deliver(make_envelope())

    assert backend.requests[0].headers["x-api-key"] == "k-123"
    assert "k-123" not in repr(connector.options)


async def test_one_connection_pool_is_reused_and_closed(backend: HttpBackend) -> None:
    connector = backend.connector()
    await connector.deliver(make_envelope())
    session = connector._session
    await connector.deliver(make_envelope())

    assert session is not None
    assert connector._session is session
    assert len(backend.peers) == 1  # both requests on one kept-alive connection
    await connector.aclose()
    assert session.closed
    assert connector._session is None


async def test_the_pool_is_sized_by_the_worker_concurrency(backend: HttpBackend) -> None:
    connector = http_connector(
        backend.url, context=replace(CONTEXT, concurrency=3), signing_secret=CURRENT
    )
    try:
        async with backend.stalled():
            attempts = [asyncio.create_task(connector.deliver(make_envelope())) for _ in range(5)]
            await backend.wait_for_requests(3)
            await asyncio.sleep(0.2)  # would a fourth connection open? (it must not)
            assert len(backend.requests) == 3
        await asyncio.gather(*attempts)
    finally:
        await connector.aclose()

    assert len(backend.requests) == 5
    assert len(backend.peers) == 3


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
