"""What the README and the OpenAPI document tell back-end developers, checked against real
deliveries: the README's Python verification example (Standard Webhooks reference library)
accepts a real signature and refuses a tampered body; the JSON Schema of the delivery body in
the OpenAPI document matches what the http connector sends, in both formats."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import WebhookVerificationError

from ozgbridge.api.openapi import build_document
from ozgbridge.cli_keys import webhook_secret
from tests.contract.factories import make_envelope
from tests.integration.connectors.http_backend import HttpBackend, parse_multipart

README = Path(__file__).resolve().parents[3] / "README.md"
SECRET = webhook_secret()


def readme_python_example() -> str:
    """The Python block of the README's "Verifying a delivery" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Verifying a delivery") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README shows no Python example"
    return match.group(1)


def schema(name: str) -> Draft202012Validator:
    document = build_document()
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


@pytest.fixture
async def backend() -> AsyncIterator[HttpBackend]:
    server = HttpBackend([SECRET])
    await server.start()
    yield server
    await server.close()


async def test_the_readme_python_example_verifies_a_real_delivery(
    backend: HttpBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    await backend.connector().deliver(make_envelope())
    [request] = backend.requests
    monkeypatch.setenv("OZGBRIDGE_WEBHOOK_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(compile(readme_python_example(), "README.md", "exec"), namespace)

    document = namespace["receive"](request.body, request.headers)

    assert document == json.loads(request.body)
    assert document["deliveryId"] == request.headers["webhook-id"]
    with pytest.raises(WebhookVerificationError):
        namespace["receive"](request.body.replace(b"Heinsberg", b"Hamburg!!"), request.headers)


async def test_the_json_body_matches_the_documented_schema(backend: HttpBackend) -> None:
    await backend.connector().deliver(make_envelope())
    [request] = backend.requests
    body = json.loads(request.body)
    errors = sorted(schema("DeliveryDocument").iter_errors(body), key=str)
    assert errors == []
    assert len(body["attachments"]) == 2
    # The schema is strict: an undocumented field would be an error.
    body["extra"] = 1
    assert not schema("DeliveryDocument").is_valid(body)


async def test_the_multipart_envelope_matches_the_documented_manifest() -> None:
    server = HttpBackend([SECRET], body_format="multipart")
    await server.start()
    try:
        await server.connector().deliver(make_envelope())
        [request] = server.requests
    finally:
        await server.close()
    parts = parse_multipart(request.body, request.headers["content-type"])
    assert [p.name for p in parts] == ["envelope", "data", "attachment", "attachment"]
    manifest = json.loads(parts[0].content)
    assert sorted(schema("DeliveryManifest").iter_errors(manifest), key=str) == []
    assert not schema("DeliveryDocument").is_valid(manifest)  # no inline contents
