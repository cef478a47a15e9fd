"""OpenAPI parts of one application's way through ozgbridge: the portal submits it
(``submitApplication``), reads its status back (``getApplication``), and the ``http`` connector
delivers it to a back-end (``webhooks.delivery``).

Separate from `openapi`, which assembles the document (its frame, the paths table, shared problem
answers, components and security schemes) from parts like this one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ozgbridge.api.openapi_parts import Mode, Problems, Ref, json_content
from ozgbridge.api.problems import PROBLEM_CONTENT_TYPE
from ozgbridge.api.schemas import ApplicationIn
from ozgbridge.api.schemas_out import AcceptedOut, ApplicationOut, ProblemOut
from ozgbridge.api.webhook import DeliveryDocument, DeliveryManifest

MODELS: list[tuple[type[BaseModel], Mode]] = [
    (ApplicationIn, "validation"),
    (AcceptedOut, "serialization"),
    (ApplicationOut, "serialization"),
    (DeliveryDocument, "serialization"),
    (DeliveryManifest, "serialization"),
]

# Fictitious: a Gewerbeanmeldung in Erkelenz (the example deployment routes it), one small PDF.
_SUBMISSION_EXAMPLE = {
    "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
    "region": {"ars": "053700004004"},
    "reference": "HS-2026-000123",
    "data": {
        "mimeType": "application/json",
        "schemaUri": "urn:ozgbridge:example:gewerbeanmeldung:1.0",
        "content": {"anzeigeart": "Neuerrichtung", "betrieb": {"name": "Musterbäckerei"}},
    },
    "attachments": [
        {
            "filename": "nachweis.pdf",
            "mimeType": "application/pdf",
            "purpose": "attachment",
            "contentBase64": "JVBERi0xLjQKJSVFT0YK",
        }
    ],
}


def submit_application(ref: Ref, problems: Problems, request_id: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/applications``."""
    problem = ref(ProblemOut)
    return {
        "operationId": "submitApplication",
        "summary": "Submit an application (Antrag) for routing and delivery",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "a retry with the same key and body gets the first answer again",
                "schema": {"type": "string", "pattern": "^[\\x20-\\x7e]{1,255}$"},
            },
            request_id,
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": ref(ApplicationIn, "validation"),
                    "example": _SUBMISSION_EXAMPLE,
                }
            },
        },
        "responses": {
            "202": {
                "description": "Stored durably; delivery follows",
                "headers": {
                    "Location": {
                        "description": "absolute with OZGBRIDGE_PUBLIC_URL, else relative",
                        "schema": {"type": "string", "format": "uri-reference"},
                    },
                    "Idempotent-Replayed": {
                        "description": "present on a replayed answer",
                        "schema": {"type": "string", "enum": ["true"]},
                    },
                },
                "content": json_content(ref(AcceptedOut)),
            },
            **problems(400, 401, 403, 409, 413, 415, 422, 500),
            "408": {
                "description": "The body did not arrive in time (OZGBRIDGE_BODY_TIMEOUT); "
                "nothing was stored",
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
            },
            "503": {
                "description": "Busy with other large submissions (intake memory budget), or "
                "the database is not available (type urn:ozgbridge:problem:database-unavailable); "
                "send it again after Retry-After, with the same Idempotency-Key",
                "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
            },
        },
    }


def get_application(ref: Ref, problems: Problems, request_id: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/applications/{id}``."""
    return {
        "operationId": "getApplication",
        "summary": "Status and deliveries of one application (never its contents)",
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            request_id,
        ],
        "responses": {
            "200": {"description": "The application", "content": json_content(ref(ApplicationOut))},
            **problems(401, 403, 404, 500),
        },
    }


def delivery_webhook(ref: Ref) -> dict[str, Any]:
    """``webhooks.delivery``: the request the ``http`` connector sends, not one it answers."""
    document = ref(DeliveryDocument)
    manifest = ref(DeliveryManifest)

    def header(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "header",
            "required": True,
            "description": description,
            "schema": {"type": "string"},
        }

    return {
        "operationId": "delivery",
        "summary": "What the http connector POSTs to a back-end (one application)",
        "description": (
            "Signed per Standard Webhooks (https://www.standardwebhooks.com): "
            'webhook-signature is "v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.'
            '{raw body}>" with the secret after its whsec_ prefix (base64-decoded); several '
            "space-separated signatures while a secret is rotated. Answer 2xx once the "
            "application is stored; 408, 425, 429 and 5xx are retried, other answers end the "
            "delivery (dead)."
        ),
        # `security: []` overrides the global bearer requirement: the back-end checks the
        # signature instead.
        "security": [],
        "parameters": [
            header("webhook-id", "the delivery id, equal on every attempt"),
            header("webhook-timestamp", "Unix seconds of this attempt"),
            header("webhook-signature", "v1,<base64 signature> (space-separated if several)"),
            header("Idempotency-Key", "the delivery id again"),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": document},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "envelope": manifest,
                            "data": {
                                "type": "string",
                                "contentMediaType": "application/octet-stream",
                            },
                            "attachment": {
                                "type": "array",
                                "items": {
                                    "type": "string",
                                    "contentMediaType": "application/octet-stream",
                                },
                            },
                        },
                        "required": ["envelope", "data"],
                    },
                    "encoding": {"envelope": {"contentType": "application/json"}},
                },
            },
        },
        "responses": {
            "2XX": {"description": "Stored by the back-end: delivered"},
            "default": {"description": "Retried (408, 425, 429, 5xx) or dead (anything else)"},
        },
    }
