"""What each back-end answer means, through the connector, with httpx mocked (pytest-httpx)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from connectors._signing import verify_signature
from connectors.http import HttpConnector, parse_retry_after
from connectors.http.connector import MAX_RESPONSE_BYTES
from ozgbridge.connector import ConnectorContext, Receipt
from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError
from tests.contract.factories import PERSONAL_DATA, make_envelope

URL = "https://fachverfahren.example/api/antraege"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONTEXT = ConnectorContext(tenant_id="heinsberg", route_id="gewerbe", data_dir=Path("/srv"))
LEAKY_BODY = {"error": "Antragsteller Erika Mustermann, Heideweg 7: unbekannt"}


def build(**options: Any) -> HttpConnector:
    connector = HttpConnector.from_config(
        {"url": URL, "signing_secret": SECRET, **options}, context=CONTEXT, timeout=5
    )
    assert isinstance(connector, HttpConnector)
    return connector


@pytest.fixture
async def connector() -> AsyncIterator[HttpConnector]:
    built = build()
    yield built
    await built.aclose()


RECEIPT, RETRIABLE, PERMANENT = "receipt", "retriable", "permanent"
TABLE = [
    (200, RECEIPT),
    (201, RECEIPT),
    (202, RECEIPT),
    (204, RECEIPT),
    (299, RECEIPT),
    (301, PERMANENT),
    (302, PERMANENT),
    (303, PERMANENT),
    (304, PERMANENT),
    (307, PERMANENT),
    (308, PERMANENT),
    (400, PERMANENT),
    (401, PERMANENT),
    (403, PERMANENT),
    (404, PERMANENT),
    (405, PERMANENT),
    (409, PERMANENT),
    (410, PERMANENT),
    (413, PERMANENT),
    (415, PERMANENT),
    (422, PERMANENT),
    (451, PERMANENT),
    (408, RETRIABLE),
    (425, RETRIABLE),
    (429, RETRIABLE),
    (500, RETRIABLE),
    (501, RETRIABLE),
    (502, RETRIABLE),
    (503, RETRIABLE),
    (504, RETRIABLE),
    (507, RETRIABLE),
    (599, RETRIABLE),
    (600, PERMANENT),
]


@pytest.mark.parametrize(("status", "outcome"), TABLE)
async def test_status_code_outcome(
    connector: HttpConnector, httpx_mock: HTTPXMock, status: int, outcome: str
) -> None:
    httpx_mock.add_response(url=URL, status_code=status, json=LEAKY_BODY)

    if outcome == RECEIPT:
        receipt = await connector.deliver(make_envelope())
        assert receipt.status_code == status
        return
    expected = RetriableDeliveryError if outcome == RETRIABLE else PermanentDeliveryError
    with pytest.raises(DeliveryError) as caught:
        await connector.deliver(make_envelope())
    assert type(caught.value) is expected
    assert caught.value.status_code == status
    assert caught.value.detail == f"HTTP {status} from back-end"
    assert not any(word in caught.value.detail for word in PERSONAL_DATA)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds(
    connector: HttpConnector, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(status_code=status, headers={"Retry-After": "120"})

    with pytest.raises(RetriableDeliveryError) as caught:
        await connector.deliver(make_envelope())

    assert caught.value.retry_after == 120.0


async def test_retry_after_as_http_date(connector: HttpConnector, httpx_mock: HTTPXMock) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=90)
    httpx_mock.add_response(
        status_code=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )

    with pytest.raises(RetriableDeliveryError) as caught:
        await connector.deliver(make_envelope())

    assert caught.value.retry_after is not None
    assert 80 <= caught.value.retry_after <= 90


async def test_retry_after_ignored_where_it_does_not_apply(
    connector: HttpConnector, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=500, headers={"Retry-After": "120"})

    with pytest.raises(RetriableDeliveryError) as caught:
        await connector.deliver(make_envelope())

    assert caught.value.retry_after is None


NOW = datetime(2024, 6, 3, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("3600", 3600.0),
        (" 17 ", 17.0),
        ("Mon, 03 Jun 2024 12:01:30 GMT", 90.0),
        ("Monday, 03-Jun-24 12:00:10 GMT", 10.0),  # obsolete RFC 850 form
        ("Mon, 03 Jun 2024 11:00:00 GMT", 0.0),  # in the past: now
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("²", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("headers", "body", "reference"),
    [
        ({"Content-Type": "application/json"}, b'{"id": "FV-2024-17"}', "FV-2024-17"),
        ({"Content-Type": "application/json"}, b'{"reference": 4711}', "4711"),
        ({"Content-Type": "application/json"}, b'{"id": "A", "reference": "B"}', "A"),
        ({"Content-Type": "application/problem+json"}, b'{"id": "P-1"}', "P-1"),
        ({"Content-Type": "application/json"}, b'{"id": true}', None),
        ({"Content-Type": "application/json"}, b'{"id": {"nested": 1}}', None),
        ({"Content-Type": "application/json"}, b'["id"]', None),
        ({"Content-Type": "application/json"}, b"{not json", None),
        ({"Content-Type": "application/json"}, b'{"id": "' + b"x" * 300 + b'"}', None),
        ({"Content-Type": "text/plain"}, b'{"id": "ignored"}', None),
        ({"Location": "/api/antraege/991"}, b"", "/api/antraege/991"),
        (
            {"Content-Type": "application/json", "Location": "/api/antraege/991"},
            b"{}",
            "/api/antraege/991",
        ),
        ({}, b"", None),
    ],
)
async def test_remote_reference(
    connector: HttpConnector,
    httpx_mock: HTTPXMock,
    headers: dict[str, str],
    body: bytes,
    reference: str | None,
) -> None:
    httpx_mock.add_response(status_code=201, headers=headers, content=body)

    receipt = await connector.deliver(make_envelope())

    assert receipt.remote_reference == reference


async def test_huge_answer_is_read_only_up_to_the_limit(
    connector: HttpConnector, httpx_mock: HTTPXMock
) -> None:
    # A reference at the start of a body far beyond the limit: cut JSON, so no reference.
    body = b'{"id": "FV-1", "padding": "' + b"x" * (4 * MAX_RESPONSE_BYTES) + b'"}'
    httpx_mock.add_response(
        status_code=200, headers={"Content-Type": "application/json"}, content=body
    )
    seen: list[int] = []

    class Recording(HttpConnector):
        def classify_response(self, response: httpx.Response) -> Receipt:
            seen.append(len(response.content))
            return super().classify_response(response)

    recording = Recording(connector.options, context=CONTEXT, timeout=5)
    try:
        receipt = await recording.deliver(make_envelope())
    finally:
        await recording.aclose()

    assert receipt.status_code == 200
    assert receipt.remote_reference is None
    assert seen == [MAX_RESPONSE_BYTES]


@pytest.mark.parametrize(
    ("exception", "detail"),
    [
        (httpx.ConnectError("refused"), "ConnectError talking to the back-end"),
        (httpx.ConnectTimeout("slow"), "no answer from the back-end within 5 s"),
        (httpx.ReadTimeout("slow"), "no answer from the back-end within 5 s"),
        (httpx.RemoteProtocolError("garbage"), "RemoteProtocolError talking to the back-end"),
        (httpx.ReadError("reset"), "ReadError talking to the back-end"),
    ],
)
async def test_transport_errors_are_retriable_with_their_cause(
    connector: HttpConnector, httpx_mock: HTTPXMock, exception: Exception, detail: str
) -> None:
    httpx_mock.add_exception(exception)

    with pytest.raises(RetriableDeliveryError) as caught:
        await connector.deliver(make_envelope())

    assert caught.value.detail == detail
    assert caught.value.__cause__ is exception


async def test_request_headers_and_signature(
    connector: HttpConnector, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=202)
    envelope = make_envelope()

    await connector.deliver(envelope)

    request = httpx_mock.get_request()
    assert request is not None
    assert request.method == "POST"
    assert request.headers["webhook-id"] == envelope.delivery_id
    assert request.headers["idempotency-key"] == envelope.delivery_id
    assert request.headers["user-agent"].startswith("ozgbridge/")
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    assert verify_signature(SECRET, dict(request.headers), request.content)
    assert json.loads(request.content) == envelope.to_json_document()


async def test_unsigned_when_no_secret(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=200)
    unsigned = build(signing_secret=None)

    try:
        await unsigned.deliver(make_envelope())
    finally:
        await unsigned.aclose()

    request = httpx_mock.get_request()
    assert request is not None
    assert "webhook-signature" not in request.headers
    assert "webhook-id" in request.headers


async def test_redirects_are_not_followed(connector: HttpConnector, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=307, headers={"Location": "https://elsewhere.example/"})

    with pytest.raises(PermanentDeliveryError):
        await connector.deliver(make_envelope())

    assert len(httpx_mock.get_requests()) == 1


async def test_dot_in_delivery_id_is_permanent(connector: HttpConnector) -> None:
    with pytest.raises(PermanentDeliveryError, match="webhook-id"):
        await connector.deliver(make_envelope(delivery_id="01J.evil"))


class AcceptFlagConnector(HttpConnector):
    """A back-end that answers 200 {"accepted": false} when it rejects an application."""

    def classify_response(self, response: httpx.Response) -> Receipt:
        receipt = super().classify_response(response)
        if response.json().get("accepted") is False:
            raise PermanentDeliveryError("back-end rejected the application", status_code=200)
        return receipt


async def test_classify_response_is_the_one_override_point(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=200, json={"accepted": False})
    custom = AcceptFlagConnector(build().options, context=CONTEXT, timeout=5)

    try:
        with pytest.raises(PermanentDeliveryError, match="rejected"):
            await custom.deliver(make_envelope())
    finally:
        await custom.aclose()
