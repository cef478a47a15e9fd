"""Callback authentication, the metadata builder, and the packaged schema."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from connectors.fitconnect import metadata
from connectors.fitconnect.intake import callback_signature, verify_callback
from ozgbridge.intake import CallbackRejected
from tests.conftest import SHARED_DATA

SECRET = b"callback-secret"
BODY = b'{"type":"https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions"}'


def headers(secret: bytes = SECRET, *, age: int = 0, body: bytes = BODY) -> dict[str, str]:
    timestamp = str(int(time.time()) - age)
    return {
        "callback-authentication": callback_signature(secret, timestamp, body),
        "callback-timestamp": timestamp,
    }


def test_authentic_fresh_callback_passes_with_any_configured_secret() -> None:
    verify_callback([SECRET], headers(), BODY)
    verify_callback([b"other", SECRET], headers(), BODY)
    verify_callback([SECRET], signed(timestamp=NOW - 299), BODY, now=NOW)


def test_signature_is_hex_hmac_sha512_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha512).hexdigest()
    assert callback_signature(SECRET, "1700000000", BODY) == expected


NOW = 1_700_000_000


def signed(secret: bytes = SECRET, *, timestamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return {
        "callback-authentication": callback_signature(secret, str(timestamp), body),
        "callback-timestamp": str(timestamp),
    }


@pytest.mark.parametrize(
    ("given", "body", "reason"),
    [
        (signed(b"wrong"), BODY, "does not verify"),
        (signed(), BODY + b" ", "does not verify"),
        (signed(timestamp=NOW - 301), BODY, "five minutes"),
        (signed(timestamp=NOW + 301), BODY, "five minutes"),
        ({"callback-timestamp": str(NOW)}, BODY, "missing"),
        ({**signed(), "callback-timestamp": "soon"}, BODY, "missing"),
    ],
)
def test_unauthentic_or_stale_callbacks_are_rejected(
    given: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(CallbackRejected, match=reason):
        verify_callback([SECRET], given, body, now=NOW)


def test_no_secret_configured_rejects_everything() -> None:
    with pytest.raises(CallbackRejected):
        verify_callback([], headers(), BODY)


def test_packaged_schema_is_the_official_one() -> None:
    official = json.loads((SHARED_DATA / "fitconnect" / "metadata.schema.v1.0.0.json").read_text())

    assert metadata.schema("1.0.0") == official


def test_builder_output_validates_and_unusable_mime_types_fall_back() -> None:
    document = metadata.build(
        leika_key="99050012104000",
        service_name="Gewerbeanmeldung",
        data=b"{}",
        schema_uri="urn:example:1",
        schema_mime_type="application/json",
        attachments=[
            metadata.AttachmentEntry(
                attachment_id="5f1f6f3e-7c1d-4b8a-9a3e-2b8f0c6d1e2a",
                filename="x.pdf",
                mime_type="text/plain\r\nX-Injected: 1",
                purpose="attachment",
                content=b"",
            )
        ],
        sender_reference="A/B",
        application_date="2024-06-03",
        version="1.0.0",
    )

    [entry] = document["contentStructure"]["attachments"]
    assert entry["mimeType"] == "application/octet-stream"
    assert entry["hash"]["content"] == metadata.sha512_hex(b"")
    assert metadata.leika_key_of(document) == "99050012104000"


def test_schema_violations_name_the_place_not_the_value() -> None:
    with pytest.raises(metadata.MetadataInvalid, match="contentStructure") as caught:
        metadata.validate({"contentStructure": {"attachments": "Erika Mustermann"}}, "1.0.0")

    assert "Erika" not in str(caught.value)
