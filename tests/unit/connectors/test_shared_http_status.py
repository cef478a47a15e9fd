"""One rule for what an HTTP answer means: `ozgbridge.connector.classify_http_status`, used alike
by the ``http`` and the ``fitconnect`` connector (and offered to third-party connectors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from connectors.fitconnect.client import classify
from connectors.http import HttpAnswer, HttpConnector
from ozgbridge.connector import (
    ConnectorContext,
    DeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
    classify_http_status,
    is_retriable_status,
    parse_retry_after,
)

CONTEXT = ConnectorContext(tenant_id="t", route_id="r", data_dir=Path("/srv"))
STATUSES = [100, 200, 201, 204, 301, 304, 400, 401, 404, 408, 409, 422, 425, 429, 500, 502, 503]
STATUSES += [504, 599, 600]
SOON = format_datetime(datetime.now(UTC) + timedelta(seconds=3600), usegmt=True)


def outcome(error: DeliveryError | None) -> tuple[str, int | None, bool]:
    if error is None:
        return ("delivered", None, False)
    wait = getattr(error, "retry_after", None)
    return (type(error).__name__, error.status_code, wait is not None and wait > 3000)


def http_connector_outcome(status: int, retry_after: str) -> tuple[str, int | None, bool]:
    connector = HttpConnector.from_config(
        {"url": "https://backend.example/in"}, context=CONTEXT, timeout=5
    )
    assert isinstance(connector, HttpConnector)
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": retry_after}))
    try:
        connector.classify_response(HttpAnswer(status, headers, b""))
    except DeliveryError as error:
        return outcome(error)
    return outcome(None)


def fitconnect_outcome(status: int, retry_after: str) -> tuple[str, int | None, bool]:
    response = httpx.Response(status, headers={"Retry-After": retry_after})
    try:
        classify(response, "submission")
    except DeliveryError as error:
        caught: DeliveryError | None = error
    else:
        caught = None
    if caught is not None:
        assert caught.detail == f"HTTP {status} from FIT-Connect (submission)"
    return outcome(caught)


@pytest.mark.parametrize("status", STATUSES)
# Stable ids: pytest-xdist workers must collect the same names, and SOON changes every second.
@pytest.mark.parametrize(
    "retry_after", [pytest.param("3600", id="seconds"), pytest.param(SOON, id="http-date")]
)
def test_http_and_fitconnect_decide_alike(status: int, retry_after: str) -> None:
    shared = outcome(classify_http_status(status, target="x", retry_after=retry_after))

    assert http_connector_outcome(status, retry_after) == shared
    assert fitconnect_outcome(status, retry_after) == shared


def test_the_rule() -> None:
    assert classify_http_status(204, target="x") is None
    assert isinstance(classify_http_status(302, target="x"), PermanentDeliveryError)
    assert isinstance(classify_http_status(418, target="x"), PermanentDeliveryError)
    assert [s for s in range(100, 700) if is_retriable_status(s)] == [
        408,
        425,
        429,
        *range(500, 600),
    ]
    limited = classify_http_status(429, target="inbox.example:443", retry_after="30")
    assert isinstance(limited, RetriableDeliveryError)
    assert (limited.detail, limited.retry_after) == ("HTTP 429 from inbox.example:443", 30.0)
    # Retry-After means "wait" only with 429 and 503; elsewhere the route's schedule decides.
    failed = classify_http_status(500, target="x", retry_after="30")
    assert isinstance(failed, RetriableDeliveryError)
    assert failed.retry_after is None


def test_retry_after_forms() -> None:
    now = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)

    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Mon, 03 Jun 2024 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Mon, 03 Jun 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("1.5", now=now) is None
    assert parse_retry_after(None) is None
