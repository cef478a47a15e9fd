"""What each back-end answer means: `HttpConnector.classify_response` on answers built here.

Everything that needs the wire (headers sent, redirects, transport errors, huge answers) is in
tests/integration/connectors/test_http_connector.py, against real servers on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from connectors.http import HttpAnswer, HttpConnector, parse_retry_after
from connectors.http.answer import EXCERPT_BYTES
from ozgbridge.connector import ConnectorContext, Receipt
from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.testing.factories import PERSONAL_DATA, make_envelope

URL = "https://fachverfahren.example/api/antraege"
TARGET = "https://fachverfahren.example:443/api/antraege"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONTEXT = ConnectorContext(tenant_id="heinsberg", route_id="gewerbe", data_dir=Path("/srv"))
LEAKY_BODY = json.dumps({"error": "Antragsteller Erika Mustermann, Heideweg 7: unbekannt"})


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


def answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> HttpAnswer:
    return HttpAnswer(status, CIMultiDictProxy(CIMultiDict(headers or {})), body)


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
def test_status_code_outcome(connector: HttpConnector, status: int, outcome: str) -> None:
    response = answer(status, {"Content-Type": "application/json"}, LEAKY_BODY.encode())

    if outcome == RECEIPT:
        assert connector.classify_response(response).status_code == status
        return
    expected = RetriableDeliveryError if outcome == RETRIABLE else PermanentDeliveryError
    with pytest.raises(DeliveryError) as caught:
        connector.classify_response(response)
    assert type(caught.value) is expected
    assert caught.value.status_code == status
    assert caught.value.detail == f"HTTP {status} from {TARGET}"
    assert not any(word in str(caught.value) for word in PERSONAL_DATA)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(connector: HttpConnector, status: int) -> None:
    with pytest.raises(RetriableDeliveryError) as caught:
        connector.classify_response(answer(status, {"Retry-After": "120"}))

    assert caught.value.retry_after == 120.0


def test_retry_after_as_http_date(connector: HttpConnector) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=90)

    with pytest.raises(RetriableDeliveryError) as caught:
        connector.classify_response(
            answer(503, {"Retry-After": format_datetime(when, usegmt=True)})
        )

    assert caught.value.retry_after is not None
    assert 80 <= caught.value.retry_after <= 90


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", ""])
def test_unusable_retry_after_is_ignored(connector: HttpConnector, value: str) -> None:
    with pytest.raises(RetriableDeliveryError) as caught:
        connector.classify_response(answer(429, {"Retry-After": value}))

    assert caught.value.retry_after is None


def test_retry_after_ignored_where_it_does_not_apply(connector: HttpConnector) -> None:
    with pytest.raises(RetriableDeliveryError) as caught:
        connector.classify_response(answer(500, {"Retry-After": "120"}))

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
        ({"Content-Type": "application/json"}, b'{"id": "\xff\xfe"}', None),
        ({"Content-Type": "application/json"}, b'{"id": "' + b"x" * 300 + b'"}', None),
        ({"Content-Type": "text/plain"}, b'{"id": "ignored"}', None),
        ({"Location": "/api/antraege/991"}, b"", "/api/antraege/991"),
        (
            {"Content-Type": "application/json", "Location": "/api/antraege/991"},
            b"{}",
            "/api/antraege/991",
        ),
        ({"Location": "/" + "x" * 3000}, b"", None),
        ({}, b"", None),
    ],
)
def test_remote_reference(
    connector: HttpConnector, headers: dict[str, str], body: bytes, reference: str | None
) -> None:
    receipt = connector.classify_response(answer(201, headers, body))

    assert receipt.remote_reference == reference


@pytest.mark.parametrize(
    ("headers", "body", "excerpt"),
    [
        ({}, b"", None),
        ({}, b"Nachname fehlt", "Nachname fehlt"),
        ({"Content-Type": "text/plain; charset=utf-8"}, "Straße".encode(), "Straße"),
        ({"Content-Type": "text/plain; charset=ISO-8859-1"}, "Straße".encode("latin-1"), "Straße"),
        ({"Content-Type": "text/plain; charset=no-such-codec"}, "Straße".encode(), "Straße"),
        ({"Content-Type": 'text/plain; charset="utf-8"'}, b"ok \xff bad", "ok \ufffd bad"),
        ({}, b"nul\x00byte", "nul\ufffdbyte"),
        # 1023 ASCII bytes, then a 2-byte character cut in half by the limit: dropped whole
        ({}, b"x" * (EXCERPT_BYTES - 1) + "ä".encode() + b"tail", "x" * (EXCERPT_BYTES - 1)),
        ({}, b"y" * (4 * EXCERPT_BYTES), "y" * EXCERPT_BYTES),
    ],
)
def test_excerpt_is_the_first_kilobyte_as_text(
    headers: dict[str, str], body: bytes, excerpt: str | None
) -> None:
    assert answer(400, headers, body).excerpt() == excerpt


async def test_dot_in_delivery_id_is_permanent(connector: HttpConnector) -> None:
    with pytest.raises(PermanentDeliveryError, match="webhook-id"):
        await connector.deliver(make_envelope(delivery_id="01J.evil"))


class AcceptFlagConnector(HttpConnector):
    """A back-end that answers 200 {"accepted": false} when it rejects an application."""

    def classify_response(self, response: HttpAnswer) -> Receipt:
        receipt = super().classify_response(response)
        if response.json().get("accepted") is False:
            raise PermanentDeliveryError("back-end rejected the application", status_code=200)
        return receipt


def test_classify_response_is_the_one_override_point() -> None:
    custom = AcceptFlagConnector(build().options, context=CONTEXT, timeout=5)
    rejected = answer(200, {"Content-Type": "application/json"}, b'{"accepted": false}')
    accepted = answer(200, {"Content-Type": "application/json"}, b'{"accepted": true, "id": 7}')

    with pytest.raises(PermanentDeliveryError, match="rejected"):
        custom.classify_response(rejected)
    assert custom.classify_response(accepted).remote_reference == "7"
