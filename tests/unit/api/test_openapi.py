"""The OpenAPI document is a valid OpenAPI 3.1 description built from the handlers' models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ozgbridge.api.openapi import build_document
from ozgbridge.api.schemas import ApplicationIn


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_every_ref_resolves() -> None:
    document = build_document()

    found = list(refs(document))

    assert found, "the document should reference its component schemas"
    for ref in found:
        assert isinstance(resolve(document, ref), dict), ref


def test_valid_openapi_3_1() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    document = build_document()

    validator.validate(document)
    assert document["openapi"].startswith("3.1")


def test_request_body_is_the_handlers_model() -> None:
    document = build_document()
    operation = document["paths"]["/v1/applications"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]

    component = resolve(document, schema["$ref"])

    assert set(component["properties"]) == {
        field.alias or name for name, field in ApplicationIn.model_fields.items()
    }
    assert set(component["required"]) == {"service", "region", "data"}
    attachment = resolve(document, component["properties"]["attachments"]["items"]["$ref"])
    assert attachment["properties"]["contentBase64"]["contentEncoding"] == "base64"


def test_errors_are_problem_documents() -> None:
    document = build_document()

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    content = response["content"]
                    assert list(content) == ["application/problem+json"], (path, method, status)
                    problem = resolve(
                        document, content["application/problem+json"]["schema"]["$ref"]
                    )
                    assert {"type", "title", "status", "detail"} <= set(problem["required"])


def test_authentication_is_bearer_except_for_probes() -> None:
    document = build_document()

    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"bearerAuth": []}]
    public = {
        path
        for path, operations in document["paths"].items()
        if operations["get" if "get" in operations else "post"].get("security") == []
    }
    assert public == {"/healthz", "/readyz", "/v1/openapi.json"}


def test_intake_callbacks_are_documented_from_the_installed_intakes() -> None:
    document = build_document()

    generic = document["paths"]["/v1/intakes/{kind}/callbacks"]["post"]
    alias = document["paths"]["/v1/fitconnect/callbacks"]["post"]

    assert generic["parameters"][0]["schema"]["enum"] == ["fitconnect"]
    assert generic["security"] == [{"fitconnectCallback": []}]
    assert alias["deprecated"] is True
    assert "/v1/intakes/fitconnect/callbacks" in alias["description"]
    scheme = document["components"]["securitySchemes"]["fitconnectCallback"]
    assert scheme["name"] == "callback-authentication"
