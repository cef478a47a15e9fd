"""The OpenAPI part for intake callbacks, built from the installed intake plug-ins.

The core names no intake: the path's ``kind`` values, each intake's security scheme (the header
that carries its credential) and its older paths (aliases, marked deprecated) all come from the
intake classes' `CallbackSpec`.
"""

from __future__ import annotations

import re
from typing import Any

from ozgbridge.api.openapi_parts import json_content
from ozgbridge.intake import CallbackSpec, intake_classes


def _callback_intakes() -> dict[str, CallbackSpec]:
    """Installed intakes that take callbacks, by kind (the core names none of them)."""
    return {
        kind: cls.callbacks
        for kind, cls in sorted(intake_classes().items())
        if cls.callbacks is not None
    }


def _scheme_name(kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", kind) + "Callback"


def callback_schemes() -> dict[str, Any]:
    return {
        _scheme_name(kind): {
            "type": "apiKey",
            "in": "header",
            "name": spec.auth_header,
            "description": f"{spec.summary} (authenticated by the {kind} intake)",
        }
        for kind, spec in _callback_intakes().items()
    }


def callback_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """``/v1/intakes/{kind}/callbacks`` and each intake's aliases (deprecated); nothing when no
    installed intake takes callbacks (the path then answers 404 to everything)."""
    specs = _callback_intakes()
    if not specs:
        return {}
    responses = {
        "202": {"description": "Authentic; the intake looks for news now"},
        **errors,
        "401": {
            **errors["401"],
            "description": "A header the intake's callbacks carry is missing (checked first), "
            "or the intake could not authenticate the callback",
        },
        "404": {
            **errors["404"],
            "description": "No installed intake of this kind takes callbacks, or this "
            "deployment does not configure it",
        },
    }
    kinds = "; ".join(
        f"`{kind}`: {spec.summary}, headers "
        + ", ".join(f"`{name}` ({text})" for name, text in spec.headers.items())
        for kind, spec in specs.items()
    )
    paths: dict[str, Any] = {
        "/v1/intakes/{kind}/callbacks": {
            "post": {
                "operationId": "intakeCallback",
                "summary": "Callback to an intake plug-in: wakes it to look for news",
                "description": (
                    "Not a bearer-token call: the intake authenticates the callback itself. "
                    "Installed intakes taking callbacks — " + kinds
                ),
                "security": [{_scheme_name(kind): []} for kind in specs],
                "parameters": [
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(specs)},
                    }
                ],
                "requestBody": {"required": True, "content": json_content({"type": "object"})},
                "responses": responses,
            }
        }
    }
    for kind, spec in specs.items():
        for number, alias in enumerate(spec.aliases):
            paths[alias] = {
                "post": {
                    "operationId": _scheme_name(kind) + (str(number + 1) if number else ""),
                    "summary": spec.summary,
                    "description": f"Alias of `/v1/intakes/{kind}/callbacks`, kept for senders "
                    "configured with this path; use the generic path for new set-ups.",
                    "deprecated": True,
                    "security": [{_scheme_name(kind): []}],
                    "parameters": [
                        {
                            "name": name,
                            "in": "header",
                            "required": True,
                            "description": description,
                            "schema": {"type": "string"},
                        }
                        for name, description in spec.headers.items()
                    ],
                    "requestBody": {"required": True, "content": json_content({"type": "object"})},
                    "responses": responses,
                }
            }
    return paths
