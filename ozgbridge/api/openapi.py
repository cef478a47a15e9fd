"""The OpenAPI 3.1 document, generated from the pydantic models the handlers use.

Generating it from the models keeps it honest: a field added to a request model appears here
without anyone remembering to document it.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ozgbridge.api import openapi_applications, openapi_ops, openapi_status
from ozgbridge.api.admin import ReloadOut
from ozgbridge.api.openapi_callbacks import callback_paths, callback_schemes
from ozgbridge.api.openapi_parts import Mode, json_content, query_parameter
from ozgbridge.api.problems import PROBLEM_CONTENT_TYPE
from ozgbridge.api.schemas_formats import DAY_OR_MONTH_PATTERN
from ozgbridge.api.schemas_out import HealthOut, ProblemOut
from ozgbridge.reporting.document import ReportDocument
from ozgbridge.reporting.model import VIEWS

REF_TEMPLATE = "#/components/schemas/{model}"

_MODELS: list[tuple[type[BaseModel], Mode]] = [
    *openapi_applications.MODELS,
    (HealthOut, "serialization"),
    (ProblemOut, "serialization"),
    (ReportDocument, "serialization"),
    *openapi_ops.MODELS,
    *openapi_status.MODELS,
    (ReloadOut, "serialization"),
]
_PROBLEM_TEXTS = {
    400: "Malformed JSON, a key given twice, or a malformed header",
    401: "No API key, or an unknown one",
    403: "The API key's role may not do this",
    404: "No such resource visible to this API key",
    409: "Conflict: Idempotency-Key reused with another body, or a status the application's "
    "state does not allow (closed case, forwarding back to an earlier authority)",
    413: "Body larger than the configured limit",
    415: "Body is not application/json",
    422: "A field is invalid, or no authority is responsible",
    500: "Unexpected error (logged with the request id)",
    503: "The database is not reachable",
}
_PUBLIC: list[dict[str, list[str]]] = []  # `security: []` overrides the global bearer requirement


def _version() -> str:
    try:
        return metadata.version("ozgbridge")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


def _problems(ref: dict[str, Any], *statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": _PROBLEM_TEXTS[status],
            "content": {PROBLEM_CONTENT_TYPE: {"schema": ref}},
        }
        for status in statuses
    }


def build_document() -> dict[str, Any]:
    refs, top = models_json_schema(_MODELS, ref_template=REF_TEMPLATE, by_alias=True)

    def ref(model: type[BaseModel], mode: Mode = "serialization") -> dict[str, Any]:
        return dict(refs[(model, mode)])

    problem = ref(ProblemOut)

    def problems(*statuses: int) -> dict[str, Any]:
        return _problems(problem, *statuses)

    request_id = {
        "name": "X-Request-Id",
        "in": "header",
        "required": False,
        # Any value is taken (a request is never refused over its correlation id); only a
        # harmless one is echoed into logs and headers (api/app.py).
        "description": "echoed in the answer and the logs when it is 1–128 characters of "
        "A–Z a–z 0–9 . _ : -; any other value, like a missing one, is replaced by a generated id",
        "schema": {"type": "string"},
    }
    report = _report_operation(ref(ReportDocument), problem, request_id)
    health = {"description": "OK", "content": json_content(ref(HealthOut))}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ozgbridge",
            "version": _version(),
            "description": "Routes OZG online applications to the responsible authority.",
        },
        "paths": {
            "/v1/applications": {
                "post": openapi_applications.submit_application(ref, problems, request_id),
                "get": openapi_status.list_applications(ref, problems, request_id),
            },
            "/v1/applications/{id}": {
                "get": openapi_applications.get_application(ref, problems, request_id)
            },
            **openapi_status.paths(ref, problems, request_id),
            "/v1/reports/ozg": {"get": report},
            **callback_paths(_problems(problem, 401, 404, 413)),
            **openapi_ops.paths(ref, problem, request_id),
            "/v1/admin/reload": {"post": _admin_reload(ref(ReloadOut), problem, request_id)},
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness",
                    "security": _PUBLIC,
                    "responses": {"200": health},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness: the database answers",
                    "security": _PUBLIC,
                    "responses": {"200": health, **_problems(problem, 503)},
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": _PUBLIC,
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": json_content({"type": "object"}),
                        }
                    },
                }
            },
        },
        "webhooks": {
            "delivery": {"post": openapi_applications.delivery_webhook(ref)},
            **openapi_status.webhooks(ref),
        },
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key token from keys.yaml (stored there as SHA-256)",
                },
                **callback_schemes(),
            },
        },
        "security": [{"bearerAuth": []}],
    }


def _report_operation(
    document: dict[str, Any], problem: dict[str, Any], request_id: dict[str, Any]
) -> dict[str, Any]:
    day_or_month = {"type": "string", "pattern": DAY_OR_MONTH_PATTERN}
    return {
        "operationId": "getOzgReport",
        "summary": "OZG status report: coverage, maturity, usage and delivery health (aggregates)",
        "description": (
            "Roles coordinator and operator: any tenants; role tenant: its own tenant only "
            "(another tenant is 403); role portal: 403. Never contains application content."
        ),
        "parameters": [
            query_parameter(
                "from",
                "first day (YYYY-MM-DD) or month (YYYY-MM); default: this month to date (UTC); "
                "a day that does not exist, a period ending before it starts, longer than "
                "3,700 days or (with the period before it, compared with) outside the years "
                "0001–9999 is 422",
                day_or_month,
            ),
            query_parameter(
                "to", "last day, inclusive (YYYY-MM-DD), or month (YYYY-MM)", day_or_month
            ),
            {
                **query_parameter(
                    "tenant",
                    "tenant id; repeat or separate by commas; default: all visible",
                    {"type": "array", "items": {"type": "string"}},
                ),
                "style": "form",
                "explode": True,
            },
            query_parameter(
                "format",
                "json (default), csv (one view) or xlsx (one sheet per view)",
                {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"},
            ),
            query_parameter(
                "view",
                "the view a CSV holds",
                {"type": "string", "enum": list(VIEWS), "default": "tenant-services"},
            ),
            request_id,
        ],
        "responses": {
            "200": {
                "description": "The report",
                "content": {
                    "application/json": {"schema": document},
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {
                            "type": "string",
                            "contentMediaType": "application/"
                            "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        }
                    },
                },
            },
            **_problems(problem, 401, 403, 422, 500),
        },
    }


@functools.cache
def _document_bytes() -> bytes:
    return json.dumps(build_document(), ensure_ascii=False).encode("utf-8")


async def serve(request: web.Request) -> web.StreamResponse:
    return web.Response(body=_document_bytes(), content_type="application/json")


def _admin_reload(
    answer: dict[str, Any], problem: dict[str, Any], request_id: dict[str, Any]
) -> dict[str, Any]:
    return {
        "operationId": "reloadConfiguration",
        "summary": "Read the configuration directory again and swap it in (process and group)",
        "description": (
            "Role operator. Checks the configuration exactly as start-up does; with errors it is "
            "refused (422, every problem in `errors` as file:line: field) and the running "
            "configuration stays. Deliveries in flight finish with the configuration they "
            "started with. Each process reloads on its own (or on SIGHUP)."
        ),
        "parameters": [request_id],
        "responses": {
            "200": {"description": "The new configuration runs", "content": json_content(answer)},
            **_problems(problem, 401, 403, 422, 500),
        },
    }
