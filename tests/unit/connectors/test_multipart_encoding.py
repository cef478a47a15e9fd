"""The multipart body the http connector builds (and signs) itself."""

from __future__ import annotations

import json
import secrets
from email.parser import BytesParser
from email.policy import HTTP
from itertools import count

import pytest

from connectors.http.encoding import encode_body
from ozgbridge.testing.factories import make_attachment, make_envelope


def parts_of(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Split with the standard library's MIME parser, independent of the encoder."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return [
        (dict(part.items()), part.get_payload(decode=True))  # type: ignore[misc]
        for part in message.iter_parts()
    ]


def test_parts_in_manifest_order() -> None:
    envelope = make_envelope()

    body, content_type = encode_body(envelope, "multipart")

    parts = parts_of(body, content_type)
    assert [h["Content-Disposition"] for h, _ in parts] == [
        'form-data; name="envelope"',
        'form-data; name="data"; filename="data.json"',
        'form-data; name="attachment"; filename="Personalausweis Erika Mustermann.pdf"',
        'form-data; name="attachment"; filename="Grundriss Gaststätte Heideweg.jpg"',
    ]
    assert [h["Content-Type"] for h, _ in parts] == [
        "application/json",
        "application/json",
        "application/pdf",
        "image/jpeg",
    ]
    assert json.loads(parts[0][1]) == envelope.manifest()


def test_boundary_never_occurs_in_a_part(monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = count()
    monkeypatch.setattr(secrets, "token_hex", lambda n: f"{next(numbers):032x}")
    first_choice = f"--ozgbridge-{0:032x}".encode()
    envelope = make_envelope(
        attachments=(make_attachment(content=b"before\r\n" + first_choice + b"\r\nafter"),)
    )

    body, content_type = encode_body(envelope, "multipart")

    assert content_type == f"multipart/form-data; boundary=ozgbridge-{1:032x}"
    assert body.count(b"--ozgbridge-") == 4 + 1  # 3 parts + closing, plus the one inside


def test_portal_supplied_values_cannot_inject_headers() -> None:
    envelope = make_envelope(
        attachments=(
            make_attachment(
                filename='evil"\r\nContent-Type: text/html\r\n\r\n.pdf',
                mime_type="application/pdf\r\nX-Injected: 1",
            ),
        )
    )

    body, content_type = encode_body(envelope, "multipart")

    [(_, manifest), _, (headers, content)] = parts_of(body, content_type)
    assert headers == {
        "Content-Disposition": (
            'form-data; name="attachment"; '
            'filename="evil%22%0D%0AContent-Type: text/html%0D%0A%0D%0A.pdf"'
        ),
        "Content-Type": "application/octet-stream",
    }
    assert content == envelope.attachments[0].content
    # Only the manifest mentions it, as an escaped JSON string, never as a header line.
    assert b"\nX-Injected" not in body
    assert b"\\r\\nX-Injected" in manifest


def test_json_body_is_the_json_document() -> None:
    envelope = make_envelope()

    body, content_type = encode_body(envelope, "json")

    assert content_type == "application/json"
    assert json.loads(body) == envelope.to_json_document()
    assert body.isascii()
