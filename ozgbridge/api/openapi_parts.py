"""Small pieces every part of the OpenAPI document is built from (`openapi`, `openapi_ops`,
`openapi_status`, `openapi_callbacks`, `openapi_applications`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

Mode = Literal["validation", "serialization"]
# `ref(model, mode)`: the ``$ref`` of a model's schema in the document's components.
Ref = Callable[..., dict[str, Any]]
# `problems(*statuses)`: the problem+json responses for these statuses, described once.
Problems = Callable[..., dict[str, Any]]


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }
