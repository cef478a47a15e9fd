"""OpenAPI parts of the status back-channel: its operations, and the portal events as webhooks.

OpenAPI 3.1 describes requests an API *sends* under ``webhooks``: each portal event type is one
there, its body the event's schema, its headers the Standard Webhooks ones.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ozgbridge.api.openapi_parts import (
    Mode,
    Problems,
    Ref,
    json_content,
    path_parameter,
    query_parameter,
)
from ozgbridge.api.schemas_status import (
    ApplicationListOut,
    PortalEventListOut,
    PortalEventOut,
    StatusAcceptedOut,
    StatusIn,
)
from ozgbridge.domain import ApplicationStatus
from ozgbridge.events.model import EVENT_MODELS, EventState

MODELS: list[tuple[type[BaseModel], Mode]] = [
    (StatusIn, "validation"),
    (StatusAcceptedOut, "serialization"),
    (ApplicationListOut, "serialization"),
    (PortalEventOut, "serialization"),
    (PortalEventListOut, "serialization"),
    *[(model, "serialization") for model in EVENT_MODELS.values()],
]


_LIMIT = query_parameter(
    "limit", "page size, 1–500 (default 100)", {"type": "integer", "minimum": 1, "maximum": 500}
)


def paths(ref: Ref, problems: Problems, request_id: dict[str, Any]) -> dict[str, Any]:
    report_status = {
        "operationId": "reportApplicationStatus",
        "summary": "Report the authority's processing status (and forward when not responsible)",
        "description": (
            "A tenant key of the tenant the application is with now, or an operator. Another "
            "tenant's application is 404; after completed, rejected or withdrawn only an operator "
            "may set another status (409). not_responsible forwards the application: with "
            "forwardTo to whoever routing names for that region, without it to the next "
            "responsible authority; never back to one that had it already (409). When nobody "
            "is responsible the application becomes unroutable. The note is personal data: "
            "stored and shown, never logged or audited."
        ),
        "parameters": [
            path_parameter("id", "the application id"),
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "a retry with the same key, application and body gets the first "
                "answer again (header Idempotent-Replayed: true); another body → 409",
                "schema": {"type": "string", "pattern": "^[\\x20-\\x7e]{1,255}$"},
            },
            request_id,
        ],
        "requestBody": {"required": True, "content": json_content(ref(StatusIn, "validation"))},
        "responses": {
            "202": {"description": "Recorded", "content": json_content(ref(StatusAcceptedOut))},
            **problems(400, 401, 403, 404, 409, 413, 415, 422, 500),
        },
    }
    list_events = {
        "operationId": "listPortalEvents",
        "summary": "The portal events outbox, newest first: what was sent, what failed",
        "description": "A portal key sees its own events, an operator all; other roles 403.",
        "parameters": [
            query_parameter(
                "state",
                "only events in this state",
                {"type": "string", "enum": [str(s) for s in EventState]},
            ),
            query_parameter("application", "only this application's events", {"type": "string"}),
            query_parameter("key", "only this portal key's events (operators)", {"type": "string"}),
            query_parameter("before", "the `next` of the previous page", {"type": "string"}),
            _LIMIT,
            request_id,
        ],
        "responses": {
            "200": {"description": "One page", "content": json_content(ref(PortalEventListOut))},
            **problems(401, 403, 422, 500),
        },
    }
    replay = {
        "operationId": "replayPortalEvent",
        "summary": "Send a dead portal event again",
        "description": "An operator, or the portal key it belongs to.",
        "parameters": [path_parameter("id", "the event id"), request_id],
        "responses": {
            "202": {"description": "Pending again", "content": json_content(ref(PortalEventOut))},
            **problems(401, 403, 404, 409, 500),
        },
    }
    return {
        "/v1/applications/{id}/status": {"post": report_status},
        "/v1/events": {"get": list_events},
        "/v1/events/{id}/replay": {"post": replay},
    }


def list_applications(ref: Ref, problems: Problems, request_id: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/applications`` (beside the submission's POST on the same path)."""
    return {
        "operationId": "listApplications",
        "summary": "Applications by status, newest first (e.g. status=unroutable)",
        "description": (
            "Operators see all (optionally one tenant's); a tenant key its own tenant's; a portal "
            "key what it submitted; coordinators 403."
        ),
        "parameters": [
            query_parameter(
                "status",
                "only applications with this status",
                {"type": "string", "enum": [str(s) for s in ApplicationStatus]},
            ),
            query_parameter("tenant", "only this tenant's (operators)", {"type": "string"}),
            query_parameter("before", "the `next` of the previous page", {"type": "string"}),
            _LIMIT,
            request_id,
        ],
        "responses": {
            "200": {"description": "One page", "content": json_content(ref(ApplicationListOut))},
            **problems(401, 403, 422, 500),
        },
    }


_WEBHOOK_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }
    for name, description in (
        ("webhook-id", "the event id; the same on every retry, so repeats can be dropped"),
        ("webhook-timestamp", "Unix seconds when this attempt was signed"),
        (
            "webhook-signature",
            'v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}"> per signing '
            "secret, space-separated (Standard Webhooks)",
        ),
    )
]


def webhooks(ref: Ref) -> dict[str, Any]:
    """One entry per portal event type: POSTed to the portal key's ``events.url``."""
    hooks = {}
    for event_type, model in EVENT_MODELS.items():
        hooks[str(event_type)] = {
            "post": {
                "operationId": f"portalEvent_{event_type.name.lower()}",
                "summary": (model.__doc__ or "").strip().splitlines()[0],
                "description": (
                    "Sent to a portal key's events.url about an application it submitted, at "
                    "least once and in order per application; answer 2xx to acknowledge. 408, "
                    "425, 429 and 5xx are retried along the retry ladder, other answers end it."
                ),
                "parameters": _WEBHOOK_HEADERS,
                "requestBody": {"required": True, "content": json_content(ref(model))},
                "responses": {"200": {"description": "Received (any 2xx)"}},
                "security": [],
            }
        }
    return hooks
