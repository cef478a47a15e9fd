"""What the contract does not cover: this connector's own promises."""

import io
import zipfile
from ipaddress import ip_network
from pathlib import Path

import pytest
from ozgbridge_connector_example import ZipUploadConnector, ZipUploadOptions
from ozgbridge_connector_example.archive import build_archive
from pydantic import ValidationError

from ozgbridge.connector import ConnectorContext, EgressPolicy, PermanentDeliveryError
from ozgbridge.testing import make_attachment, make_envelope
from tests.backend import TOKEN, UploadEndpoint


async def test_every_attempt_uploads_the_same_bytes_with_the_same_key(
    endpoint: UploadEndpoint,
) -> None:
    first = make_envelope()
    connector = endpoint.connector()

    receipt = await connector.deliver(first)
    await connector.deliver(first.model_copy(update={"attempt": 2}))

    [(headers_1, body_1), (headers_2, body_2)] = endpoint.uploads
    assert body_1 == body_2
    assert headers_1["Idempotency-Key"] == headers_2["Idempotency-Key"] == first.delivery_id
    assert receipt.remote_reference == f"/inbox/{first.delivery_id}"


def test_archive_names_cannot_leave_the_archive() -> None:
    envelope = make_envelope(
        attachments=(make_attachment(filename="../../etc/passwd"), make_attachment(filename=".."))
    )

    with zipfile.ZipFile(io.BytesIO(build_archive(envelope))) as archive:
        names = archive.namelist()

    assert names == [
        "manifest.json",
        "data.json",
        "attachments/01-passwd",
        "attachments/02-attachment",
    ]


async def test_a_refused_token_is_permanent(endpoint: UploadEndpoint) -> None:
    connector = endpoint.connector(token="wrong")

    with pytest.raises(PermanentDeliveryError, match=r"HTTP 401 from 127\.0\.0\.1:"):
        await connector.deliver(make_envelope())


def test_plain_http_only_on_loopback() -> None:
    with pytest.raises(ValidationError, match="must be https"):
        ZipUploadOptions.model_validate({"url": "http://dms.example/inbox"})
    ZipUploadOptions.model_validate({"url": "https://dms.example/inbox"})


async def test_an_address_outside_the_allowed_networks_is_refused_permanently(
    endpoint: UploadEndpoint,
) -> None:
    only_elsewhere = EgressPolicy.of([ip_network("10.20.0.0/16")])
    context = ConnectorContext(
        tenant_id="heinsberg", route_id="dms", data_dir=Path("."), egress=only_elsewhere
    )
    connector = ZipUploadConnector.from_config(
        {"url": endpoint.url, "token": TOKEN}, context=context, timeout=10
    )
    try:
        with pytest.raises(PermanentDeliveryError, match="outside"):
            await connector.deliver(make_envelope())
    finally:
        await connector.aclose()

    assert endpoint.uploads == []
