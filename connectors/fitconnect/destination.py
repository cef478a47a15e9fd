"""What a destination (``GET /v2/destinations/{id}``) allows, decided from its answer alone.

Fields read, as FIT-Connect v2 answers them (FITKO Submission API v2; the same fields are read by
the PHP client optiGov/php-fitconnect ``src/DTOs/Incoming/DestinationInfo.php`` and by
klarbau/govtech-de ``src/lib/fit-connect/rest-tier2.ts``, verified against the test environment):
``status`` (must be ``active``), ``publicServices[]`` (``identifier`` — the LeiKa URN —,
``submissionSchemas[] {schemaUri, mimeType}``, ``regions[]`` — ARS URNs), ``metadataVersions[]``
and ``encryptionKid``. Pure: no I/O, so every rule is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.fitconnect import metadata
from ozgbridge.errors import InvalidValue

REGION_URN_PREFIX = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:"
DATA_MIME_TYPES = ("application/json", "application/xml")


class DestinationRefused(InvalidValue):
    """The destination cannot take this submission (inactive, other service, schema, version)."""


@dataclass(frozen=True)
class Plan:
    destination_id: str
    metadata_version: str
    schema_mime_type: str
    encryption_kid: str
    region: str | None  # the region URN to announce, if the destination names one covering ours


def plan(
    info: Any,
    *,
    destination_id: str,
    leika_key: str,
    ars: str,
    schema_uri: str,
    data_mime_type: str,
    pinned_version: str | None,
) -> Plan:
    _active(info, destination_id)
    urn = f"{metadata.LEIKA_URN_PREFIX}{leika_key}"
    services = [
        s
        for s in info.get("publicServices") or []
        if isinstance(s, dict) and s.get("identifier") == urn
    ]
    if not services:
        raise DestinationRefused(
            f"destination {destination_id} does not accept service {leika_key}"
        )
    service = services[0]
    schemas = [
        s
        for s in service.get("submissionSchemas") or []
        if isinstance(s, dict) and s.get("schemaUri") == schema_uri
    ]
    if not schemas:
        raise DestinationRefused(
            f"destination {destination_id} does not accept the data's schema for service "
            f"{leika_key}"
        )
    # A schema may be declared for JSON and XML; take the one the portal's data claims to be.
    wanted = metadata.safe_mime_type(data_mime_type)
    chosen = next((s for s in schemas if s.get("mimeType") == wanted), schemas[0])
    mime_type = chosen.get("mimeType")
    if mime_type not in DATA_MIME_TYPES:
        raise DestinationRefused(
            f"destination {destination_id} declares an unusable schema MIME type"
        )
    versions = info.get("metadataVersions")
    offered = [v for v in versions if isinstance(v, str)] if isinstance(versions, list) else None
    try:
        version = metadata.choose_version(offered, pinned_version)
    except metadata.UnsupportedVersion as exc:
        raise DestinationRefused(f"destination {destination_id}: {exc}") from exc
    return Plan(
        destination_id=destination_id,
        metadata_version=version,
        schema_mime_type=str(mime_type),
        encryption_kid=_encryption_kid(info, destination_id),
        region=covering_region(service.get("regions"), ars),
    )


@dataclass(frozen=True)
class Readiness:
    """What a route test can tell of a destination without an application to send."""

    encryption_kid: str
    services: tuple[str, ...]  # the LeiKa keys it accepts


def readiness(info: Any, *, destination_id: str) -> Readiness:
    """Whether the destination can take submissions at all: active, with an encryption key."""
    _active(info, destination_id)
    services = tuple(
        s["identifier"].removeprefix(metadata.LEIKA_URN_PREFIX)
        for s in info.get("publicServices") or []
        if isinstance(s, dict)
        and isinstance(s.get("identifier"), str)
        and s["identifier"].startswith(metadata.LEIKA_URN_PREFIX)
    )
    return Readiness(_encryption_kid(info, destination_id), services)


def _active(info: Any, destination_id: str) -> None:
    if not isinstance(info, dict):
        raise DestinationRefused(f"destination {destination_id}: unreadable answer")
    if info.get("status") != "active":
        raise DestinationRefused(
            f"FIT-Connect destination {destination_id} is {info.get('status')!r}, not active"
        )


def _encryption_kid(info: dict[str, Any], destination_id: str) -> str:
    kid = info.get("encryptionKid")
    # It goes into a URL path: no separators.
    if not isinstance(kid, str) or not kid or "/" in kid or "?" in kid:
        raise DestinationRefused(f"destination {destination_id} names no encryption key")
    return kid


def covering_region(regions: Any, ars: str) -> str | None:
    """The most specific listed region whose ARS is ours or contains it (ARS are hierarchical:
    Land, Regierungsbezirk, Kreis, Gemeindeverband, Gemeinde)."""
    best: str | None = None
    for region in regions or []:
        if not isinstance(region, str) or not region.startswith(REGION_URN_PREFIX):
            continue
        key = region.removeprefix(REGION_URN_PREFIX)
        if key.isdigit() and ars.startswith(key) and (best is None or len(key) > len(best)):
            best = key
    return f"{REGION_URN_PREFIX}{best}" if best is not None else None
