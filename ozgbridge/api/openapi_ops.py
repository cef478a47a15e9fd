"""The operations part of the OpenAPI document: deliveries, routes, metrics."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ozgbridge.api.openapi_parts import (
    Mode,
    Ref,
    json_content,
    path_parameter,
    query_parameter,
)
from ozgbridge.api.problems import PROBLEM_CONTENT_TYPE
from ozgbridge.api.schemas_formats import INSTANT_SCHEMA
from ozgbridge.api.schemas_ops import (
    DEFAULT_PAGE,
    MAX_PAGE,
    BulkReplayIn,
    BulkReplayOut,
    CancelIn,
    DeliveryDetailOut,
    DeliveryItemOut,
    DeliveryPageOut,
    ReplayedOut,
    ReplayIn,
    RouteActionIn,
    RouteOut,
    RouteTestOut,
)
from ozgbridge.domain import DeliveryState

MODELS: list[tuple[type[BaseModel], Mode]] = [
    (DeliveryPageOut, "serialization"),
    (DeliveryItemOut, "serialization"),
    (DeliveryDetailOut, "serialization"),
    (ReplayIn, "validation"),
    (ReplayedOut, "serialization"),
    (BulkReplayIn, "validation"),
    (BulkReplayOut, "serialization"),
    (CancelIn, "validation"),
    (RouteOut, "serialization"),
    (RouteActionIn, "validation"),
    (RouteTestOut, "serialization"),
]

ROLES = (
    "Role operator: every tenant; role tenant: its own tenant only (another tenant's item is 404, "
    "naming another tenant in a filter is 403); roles portal, coordinator and metrics: 403. "
    "Every change is an audit event naming the acting key."
)
_TEXTS = {
    400: "Malformed JSON",
    401: "No API key, or an unknown one",
    403: "The API key's role may not do this, or the filter names another tenant",
    404: "No such delivery or route visible to this API key",
    409: "The delivery's state does not allow this (see detail)",
    413: "Body larger than the configured limit",
    415: "Body is not application/json",
    422: "A parameter or field is invalid",
    500: "Unexpected error (logged with the request id)",
}


def _problems(problem: dict[str, Any], *statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": _TEXTS[status],
            "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
        }
        for status in statuses
    }


def paths(ref: Ref, problem: dict[str, Any], request_id: dict[str, Any]) -> dict[str, Any]:
    instant = INSTANT_SCHEMA
    page_size = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}
    slug = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"}
    delivery_id = path_parameter("id", "the delivery id")
    route_params = [
        path_parameter("tenant", "tenant id"),
        path_parameter("route", "route id"),
        request_id,
    ]

    def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
        return {"required": required, "content": json_content(ref(model, "validation"))}

    def ok(description: str, model: type[BaseModel], status: int = 200) -> dict[str, Any]:
        return {str(status): {"description": description, "content": json_content(ref(model))}}

    route_action = {
        "parameters": route_params,
        "requestBody": body(RouteActionIn, required=False),
        "responses": {
            **ok("The route afterwards", RouteOut),
            **_problems(problem, 400, 401, 403, 404, 415, 422, 500),
        },
    }
    return {
        "/v1/deliveries": {
            "get": {
                "operationId": "listDeliveries",
                "summary": "Deliveries, newest first, keyset-paginated (stable under inserts)",
                "description": ROLES,
                "parameters": [
                    query_parameter(
                        "state", "delivery state", {"enum": [str(s) for s in DeliveryState]}
                    ),
                    query_parameter("tenant", "tenant id", slug),
                    query_parameter("route", "route id", slug),
                    query_parameter(
                        "service", "LeiKa key", {"type": "string", "pattern": "^99[0-9]{12}$"}
                    ),
                    query_parameter("since", "created at or after", instant),
                    query_parameter("until", "created before", instant),
                    query_parameter("limit", "page size", page_size),
                    query_parameter("cursor", "`next` of the previous page", {"type": "string"}),
                    request_id,
                ],
                "responses": {
                    **ok("One page", DeliveryPageOut),
                    **_problems(problem, 401, 403, 422, 500),
                },
            }
        },
        "/v1/deliveries/replay": {
            "post": {
                "operationId": "bulkReplayDeliveries",
                "summary": "Replay every dead (or cancelled) delivery matching a filter",
                "description": ROLES,
                "parameters": [request_id],
                "requestBody": body(BulkReplayIn),
                "responses": {
                    **ok("How many matched and were replayed (0 on a dry run)", BulkReplayOut),
                    **_problems(problem, 400, 401, 403, 409, 413, 415, 422, 500),
                },
            }
        },
        "/v1/deliveries/{id}": {
            "get": {
                "operationId": "getDelivery",
                "summary": "One delivery with every attempt",
                "description": ROLES,
                "parameters": [delivery_id, request_id],
                "responses": {
                    **ok("The delivery", DeliveryDetailOut),
                    **_problems(problem, 401, 403, 404, 500),
                },
            }
        },
        "/v1/deliveries/{id}/replay": {
            "post": {
                "operationId": "replayDelivery",
                "summary": "Attempt a dead or cancelled delivery again: same id, fresh ladder",
                "description": ROLES
                + ' A delivered one needs {"force": true}; a pending or delivering one is 409.',
                "parameters": [delivery_id, request_id],
                "requestBody": body(ReplayIn, required=False),
                "responses": {
                    **ok("Pending again, due now", ReplayedOut, 202),
                    **_problems(problem, 400, 401, 403, 404, 409, 415, 422, 500),
                },
            }
        },
        "/v1/deliveries/{id}/cancel": {
            "post": {
                "operationId": "cancelDelivery",
                "summary": "Never deliver this delivery (until replayed); a delivered one is 409",
                "description": ROLES,
                "parameters": [delivery_id, request_id],
                "requestBody": body(CancelIn),
                "responses": {
                    **ok("The delivery afterwards", DeliveryItemOut),
                    **_problems(problem, 400, 401, 403, 404, 409, 415, 422, 500),
                },
            }
        },
        "/v1/routes": {
            "get": {
                "operationId": "listRoutes",
                "summary": "Every configured route with its state and delivery figures",
                "description": ROLES,
                "parameters": [
                    query_parameter("tenant", "only this tenant's routes", slug),
                    request_id,
                ],
                "responses": {
                    "200": {
                        "description": "The routes",
                        "content": json_content({"type": "array", "items": ref(RouteOut)}),
                    },
                    **_problems(problem, 401, 403, 422, 500),
                },
            }
        },
        "/v1/routes/{tenant}/{route}/pause": {
            "post": {
                "operationId": "pauseRoute",
                "summary": "Hold the route: applications are accepted and stored, not attempted",
                "description": ROLES + " Waiting on a paused route uses up no retry rung.",
                **route_action,
            }
        },
        "/v1/routes/{tenant}/{route}/resume": {
            "post": {
                "operationId": "resumeRoute",
                "summary": "Lift the pause (and close the circuit breaker): attempts start now",
                "description": ROLES,
                **route_action,
            }
        },
        "/v1/routes/{tenant}/{route}/test": {
            "post": {
                "operationId": "testRoute",
                "summary": "Send a signed synthetic ping through the route's real connector",
                "description": ROLES
                + ' No application, no personal data; the http connector marks it "type": "ping".',
                "parameters": route_params,
                "responses": {
                    **ok("The result (also when the back-end failed)", RouteTestOut),
                    **_problems(problem, 401, 403, 404, 500),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus text exposition (roles operator and metrics)",
                "parameters": [request_id],
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_problems(problem, 401, 403, 500),
                },
            }
        },
    }
