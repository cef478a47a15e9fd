"""Value types and models shared by every part of ozgbridge.

The key types validate on construction, so a `LeikaKey`, `AGS` or `ARS` that exists is well-formed:
- LeiKa key (Leistungsschlüssel): 14 digits starting with ``99`` — *what* is applied for;
- AGS (Amtlicher Gemeindeschlüssel): 8 digits — *where*, down to the municipality;
- ARS (Amtlicher Regionalschlüssel): 12 digits — the AGS plus the Gemeindeverband.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

# [0-9], not \d: in Python \d also matches other scripts' digits (٠٥٣٧…), which no key has
_LEIKA = re.compile(r"99[0-9]{12}")
_AGS = re.compile(r"[0-9]{8}")
_ARS = re.compile(r"[0-9]{12}")


def _leika(value: str) -> str:
    if not _LEIKA.fullmatch(value):
        raise ValueError(f"{value!r} is not a LeiKa key (14 digits starting with 99)")
    return value


def _ags(value: str) -> str:
    if not _AGS.fullmatch(value):
        raise ValueError(f"{value!r} is not an AGS (8 digits)")
    return value


def _ars(value: str) -> str:
    if not _ARS.fullmatch(value):
        raise ValueError(f"{value!r} is not an ARS (12 digits)")
    return value


LeikaKey = Annotated[
    str,
    AfterValidator(_leika),
    WithJsonSchema(
        {"type": "string", "pattern": "^99[0-9]{12}$", "description": "LeiKa service key"}
    ),
]
AGS = Annotated[
    str,
    AfterValidator(_ags),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{8}$", "description": "Gemeindeschlüssel"}),
]
ARS = Annotated[
    str,
    AfterValidator(_ars),
    WithJsonSchema(
        {"type": "string", "pattern": "^[0-9]{12}$", "description": "Regionalschlüssel"}
    ),
]


def is_leika_key(value: str) -> bool:
    return bool(_LEIKA.fullmatch(value))


def ags_from_ars(ars: str) -> str:
    """The AGS inside an ARS: Land, Regierungsbezirk, Kreis, then the municipality's own 3 digits.

    Exact for every state, because the ARS only inserts the 4-digit Gemeindeverband.
    """
    _ars(ars)
    return ars[:5] + ars[9:]


def ars_from_ags(ags: str) -> str:
    """The ARS for an AGS under the NRW rule (NRW has no Gemeindeverbände).

    Kreise and kreisfreie Städte (municipality part ``000``) get ``AGS + "0000"``; a town inside a
    Kreis repeats its municipality number as the Verband part: ``AGS[:5] + "0" + AGS[5:] * 2``.
    Elsewhere the ARS must be configured explicitly.
    """
    _ags(ags)
    if ags[5:] == "000":
        return ags + "0000"
    return ags[:5] + "0" + ags[5:] + ags[5:]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApplicationStatus(StrEnum):
    """Where an application (Antrag) stands as a whole."""

    RECEIVED = "received"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"  # its delivery was cancelled (by a human, or forwarded elsewhere)
    # The authority it was with is not responsible, and routing names nobody else: operators
    # take it from here (see ozgbridge.forwarding).
    UNROUTABLE = "unroutable"


class DeliveryState(StrEnum):
    """Where one delivery stands in the queue.

    ``pending``: waiting for its next attempt (or for its route to be resumed or its breaker to
    close); ``delivering``: a worker holds it under a lease right now; ``dead``: given up, waiting
    for a human (replay or cancel); ``cancelled``: it must not be delivered any more (a human
    cancelled it, or its application was forwarded elsewhere).
    """

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"
    # The stored name before migration 0003_operations; an alias, so older code keeps working.
    LEASED = "delivering"


class RouteState(StrEnum):
    """What a route does right now, as operators see it.

    ``paused``: a human holds it (applications are accepted and stored, nothing is attempted);
    ``open``: its circuit breaker tripped after repeated failures, nothing is attempted until the
    cool-down ends; ``half-open``: one probe delivery is let through to see if the back-end is back.
    """

    ACTIVE = "active"
    PAUSED = "paused"
    OPEN = "open"
    HALF_OPEN = "half-open"


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRIABLE = "retriable"
    PERMANENT = "permanent"


AttachmentPurpose = Literal["form", "attachment", "report"]


class CamelModel(BaseModel):
    """External JSON is camelCase; Python attributes stay snake_case."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


def exactly_one_of(**branches: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema for "exactly one of these fields is given", ``null`` counting as not given —
    a model's ``json_schema_extra`` beside the validator that checks the same, so the OpenAPI
    document states the rule too.

    Each field maps to the schema of a given value: ``{"ars": {"type": "string"}, …}``. A field
    sent as ``null`` fails its own branch, so ``{"ars": "…", "ags": null}`` matches exactly one
    branch, as the model's validator accepts it; both given, or neither, matches none or two.
    """
    return {
        "oneOf": [
            {"required": [name], "properties": {name: given}} for name, given in branches.items()
        ]
    }


class ServiceRef(CamelModel):
    leika_key: LeikaKey
    name: str | None = Field(default=None, max_length=500)


class RegionRef(CamelModel):
    """A region named both ways; `ars` is authoritative, `ags` derived from it."""

    ars: ARS
    ags: AGS

    @classmethod
    def of(cls, *, ars: str | None = None, ags: str | None = None) -> RegionRef:
        if ars is not None:
            return cls(ars=ars, ags=ags_from_ars(ars))
        if ags is not None:
            return cls(ars=ars_from_ags(ags), ags=ags)
        raise ValueError("a region needs an ars or an ags")


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class FormData(CamelModel):
    """The application's form content (Fachdaten) as bytes with its MIME type."""

    mime_type: str
    schema_uri: str | None = None
    content: bytes = Field(repr=False)

    @property
    def sha256(self) -> str:
        return sha256_hex(self.content)


class AttachmentData(CamelModel):
    id: str
    filename: str
    mime_type: str
    purpose: AttachmentPurpose = "attachment"
    content: bytes = Field(repr=False)

    @property
    def sha256(self) -> str:
        return sha256_hex(self.content)

    @property
    def size(self) -> int:
        return len(self.content)


class Envelope(CamelModel):
    """Everything a connector needs to hand one application to one back-end, for one attempt.

    ``delivery_id`` stays the same across attempts: back-ends use it to drop duplicates.
    ``ping`` marks a synthetic envelope sent by a route test (`Connector.check`): it carries no
    application and no personal data, and its manifest says ``"type": "ping"``.
    """

    application_id: str
    delivery_id: str
    attempt: int
    tenant_id: str
    tenant_name: str
    route_id: str
    service: ServiceRef
    region: RegionRef
    reference: str | None
    submitted_at: datetime
    data: FormData
    attachments: tuple[AttachmentData, ...] = ()
    ping: bool = False

    @property
    def content_size(self) -> int:
        """Bytes of form data and attachments: what holding the envelope costs in memory."""
        return len(self.data.content) + sum(len(a.content) for a in self.attachments)

    def manifest(self) -> dict[str, Any]:
        """The envelope as JSON-ready camelCase metadata, contents replaced by size and SHA-256."""
        marker: dict[str, Any] = {"type": "ping"} if self.ping else {}
        return {
            **marker,
            "applicationId": self.application_id,
            "deliveryId": self.delivery_id,
            "attempt": self.attempt,
            "tenant": {"id": self.tenant_id, "name": self.tenant_name},
            "routeId": self.route_id,
            "service": self.service.model_dump(mode="json", by_alias=True),
            "region": self.region.model_dump(mode="json", by_alias=True),
            "reference": self.reference,
            "submittedAt": self.submitted_at.isoformat(),
            "data": {
                "mimeType": self.data.mime_type,
                "schemaUri": self.data.schema_uri,
                "size": len(self.data.content),
                "sha256": self.data.sha256,
            },
            "attachments": [
                {
                    "id": a.id,
                    "filename": a.filename,
                    "mimeType": a.mime_type,
                    "purpose": a.purpose,
                    "size": a.size,
                    "sha256": a.sha256,
                }
                for a in self.attachments
            ],
        }

    def to_json_document(self) -> dict[str, Any]:
        """`manifest()` with every content inline as base64: the HTTP connector's JSON body."""
        document = self.manifest()
        document["data"]["contentBase64"] = base64.b64encode(self.data.content).decode("ascii")
        for entry, attachment in zip(document["attachments"], self.attachments, strict=True):
            entry["contentBase64"] = base64.b64encode(attachment.content).decode("ascii")
        return document
