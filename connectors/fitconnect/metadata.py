"""Submission metadata (Metadaten) per FITKO's published schemas: choose a version, build, check.

The schemas ship inside this package (``schemas/``, see ``schemas/NOTICE``); product code never
reads them from anywhere else. Metadata names its schema in ``$schema``
(``https://schema.fitko.de/fit-connect/metadata/<version>/metadata.schema.json``, the pattern of the
schemas' own ``$schema`` property); the sender writes it, the subscriber validates against exactly
the schema it names. Hashes are SHA-512 over the *unencrypted* bytes, so the subscriber can prove
nothing was swapped on the way (the Zustelldienst only ever sees ciphertext).

Version differences that matter here (from the schema files): 1.x names the service in
``publicServiceType`` and makes ``contentStructure.data`` optional; 2.x drops
``publicServiceType`` (the service travels in the Submission API's ``publicService``), requires
``$schema`` and ``data``, and allows ``fragments`` on an attachment.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from ozgbridge.errors import InvalidValue

LEIKA_URN_PREFIX = "urn:de:fim:leika:leistung:"
SCHEMA_URI_PREFIX = "https://schema.fitko.de/fit-connect/metadata/"
SHIPPED_VERSIONS = ("1.0.0", "2.1.0")
# Metadata of the first release carries no $schema (1.0.0 defines no such property).
UNNAMED_VERSION = "1.0.0"
_SCHEMA_URI = re.compile(
    r"https://schema\.fitko\.de/fit-connect/metadata/(?P<version>\d+\.\d+\.\d+)/metadata\.schema\.json"
)
_MIME_TYPE = re.compile(r"^[-\w.]+/[-\w.+]+$")
FALLBACK_MIME_TYPE = "application/octet-stream"


class MetadataInvalid(InvalidValue):
    """Metadata that does not follow the schema; the message names the failing path only."""


class UnsupportedVersion(InvalidValue):
    """A metadata version (or ``$schema``) that no shipped schema describes."""


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def schema_uri(version: str) -> str:
    return f"{SCHEMA_URI_PREFIX}{version}/metadata.schema.json"


def is_fragmentable(version: str) -> bool:
    """2.x attachment entries may list ``fragments`` (schema 2.1.0, ``attachments.items``)."""
    return version_key(version)[0] >= 2


def choose_version(offered: Iterable[str] | None, pinned: str | None = None) -> str:
    """The newest shipped version the destination lists (``metadataVersions``), or ``pinned``.

    A destination that lists no versions is taken to accept 1.0.0 only, the one version every
    Zustelldienst release has accepted (README, FIT-Connect section).
    """
    offered_set = set(offered) if offered is not None else {UNNAMED_VERSION}
    usable = [v for v in SHIPPED_VERSIONS if v in offered_set]
    if pinned is not None:
        if pinned not in usable:
            raise UnsupportedVersion(
                f"metadata {pinned} is not accepted by the destination (it lists "
                f"{', '.join(sorted(offered_set, key=_sort_key)) or 'none'})"
            )
        return pinned
    if not usable:
        raise UnsupportedVersion(
            "the destination accepts no metadata version shipped here "
            f"({', '.join(SHIPPED_VERSIONS)})"
        )
    return max(usable, key=version_key)


def _sort_key(version: str) -> tuple[int, ...]:
    try:
        return version_key(version)
    except ValueError:
        return (0,)


def version_of(document: Any) -> str:
    """The shipped version ``document`` names in ``$schema``; `UnsupportedVersion` otherwise."""
    if not isinstance(document, dict):
        raise MetadataInvalid("metadata is not a JSON object")
    named = document.get("$schema")
    if named is None:
        return UNNAMED_VERSION
    match = _SCHEMA_URI.fullmatch(named) if isinstance(named, str) else None
    if match is None or match["version"] not in SHIPPED_VERSIONS:
        raise UnsupportedVersion("metadata names a schema that is not supported here")
    return match["version"]


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


def validate_incoming(document: Any) -> str:
    """Validate against the schema the document names; returns that version."""
    version = version_of(document)
    validate(document, version)
    return version


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
    sha512: str
    fragments: tuple[str, ...] = ()  # upload ids of its fragments, in order


def build(
    *,
    version: str,
    leika_key: str,
    service_name: str | None,
    data_sha512: str,
    schema_uri_of_data: str,
    schema_mime_type: str,
    attachments: list[AttachmentEntry],
    sender_reference: str,
    application_date: str,
) -> dict[str, Any]:
    """The metadata document in schema ``version``, validated against it."""
    entries = []
    for a in attachments:
        entry: dict[str, Any] = {
            "attachmentId": a.attachment_id,
            "hash": {"type": "sha512", "content": a.sha512},
            "purpose": a.purpose,
            "mimeType": safe_mime_type(a.mime_type),
            "filename": a.filename,
        }
        if a.fragments:
            if not is_fragmentable(version):
                raise MetadataInvalid(f"metadata {version} cannot describe fragmented attachments")
            entry["fragments"] = list(a.fragments)
        entries.append(entry)
    document: dict[str, Any] = {
        "$schema": schema_uri(version),
        "contentStructure": {
            "data": {
                "hash": {"type": "sha512", "content": data_sha512},
                "submissionSchema": {"schemaUri": schema_uri_of_data, "mimeType": schema_mime_type},
            },
            "attachments": entries,
        },
        "additionalReferenceInfo": {
            "senderReference": sender_reference,
            "applicationDate": application_date,
        },
    }
    if version_key(version)[0] == 1:  # 1.x names the service inside the metadata
        service: dict[str, Any] = {"identifier": f"{LEIKA_URN_PREFIX}{leika_key}"}
        if service_name:
            service["name"] = service_name
        document["publicServiceType"] = service
    validate(document, version)
    return document


def leika_key_of(identifier: Any) -> str | None:
    """The LeiKa key in a service URN (``urn:de:fim:leika:leistung:<key>``)."""
    if isinstance(identifier, str) and identifier.startswith(LEIKA_URN_PREFIX):
        return identifier[len(LEIKA_URN_PREFIX) :]
    return None
