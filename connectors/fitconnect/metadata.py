"""Submission metadata (Metadaten) per the FIT-Connect metadata schema, built and checked.

The schema ships inside this package (``schemas/``, see ``schemas/NOTICE``); product code never
reads it from anywhere else. Hashes are SHA-512 over the *unencrypted* bytes, so the subscriber
can prove nothing was swapped on the way (the Zustelldienst only ever sees ciphertext).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

LEIKA_URN_PREFIX = "urn:de:fim:leika:leistung:"
_MIME_TYPE = re.compile(r"^[-\w.]+/[-\w.+]+$")
FALLBACK_MIME_TYPE = "application/octet-stream"


class MetadataInvalid(ValueError):
    """Metadata that does not follow the schema; the message names the failing path only."""


@cache
def schema(version: str) -> dict[str, Any]:
    resource = files("connectors.fitconnect") / "schemas" / f"metadata.schema.v{version}.json"
    loaded: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(version: str) -> Draft202012Validator:
    return Draft202012Validator(schema(version), format_checker=FormatChecker())


def validate(document: Any, version: str) -> None:
    """`MetadataInvalid` naming where ``document`` breaks the schema (never the values)."""
    error = next(iter(_validator(version).iter_errors(document)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise MetadataInvalid(f"metadata does not follow schema {version} at {where}")


def sha512_hex(content: bytes) -> str:
    return hashlib.sha512(content).hexdigest()


def safe_mime_type(mime_type: str) -> str:
    """The MIME type the schema allows, or application/octet-stream for anything else."""
    base = mime_type.split(";", 1)[0].strip()
    return base if _MIME_TYPE.fullmatch(base) else FALLBACK_MIME_TYPE


@dataclass(frozen=True)
class AttachmentEntry:
    attachment_id: str  # UUID, unique within the submission
    filename: str
    mime_type: str
    purpose: str
    content: bytes


def build(
    *,
    leika_key: str,
    service_name: str | None,
    data: bytes,
    schema_uri: str,
    schema_mime_type: str,
    attachments: list[AttachmentEntry],
    sender_reference: str,
    application_date: str,
    version: str,
) -> dict[str, Any]:
    """The metadata document, validated against the schema ``version``."""
    service: dict[str, Any] = {"identifier": f"{LEIKA_URN_PREFIX}{leika_key}"}
    if service_name:
        service["name"] = service_name
    document: dict[str, Any] = {
        "publicServiceType": service,
        "contentStructure": {
            "data": {
                "hash": {"type": "sha512", "content": sha512_hex(data)},
                "submissionSchema": {"schemaUri": schema_uri, "mimeType": schema_mime_type},
            },
            "attachments": [
                {
                    "attachmentId": a.attachment_id,
                    "hash": {"type": "sha512", "content": sha512_hex(a.content)},
                    "purpose": a.purpose,
                    "mimeType": safe_mime_type(a.mime_type),
                    "filename": a.filename,
                }
                for a in attachments
            ],
        },
        "additionalReferenceInfo": {
            "senderReference": sender_reference,
            "applicationDate": application_date,
        },
    }
    validate(document, version)
    return document


def leika_key_of(document: dict[str, Any]) -> str | None:
    identifier = (document.get("publicServiceType") or {}).get("identifier")
    if isinstance(identifier, str) and identifier.startswith(LEIKA_URN_PREFIX):
        return identifier[len(LEIKA_URN_PREFIX) :]
    return None
