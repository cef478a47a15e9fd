"""What the ``http`` connector POSTs to a back-end, as JSON Schema for the OpenAPI document.

These models *describe* the body the connector builds (``Envelope.to_json_document`` for
``format: json``; ``Envelope.manifest`` as the ``envelope`` part for ``format: multipart``);
they are not used to build it. A test validates real connector output against them, so the
description cannot drift from what back-ends receive. The document lists them under
``webhooks.delivery`` with the Standard Webhooks headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from ozgbridge.domain import AGS, ARS, AttachmentPurpose, CamelModel, LeikaKey

_SHA256 = Field(pattern="^[0-9a-f]{64}$", description="SHA-256 of the content, hex")
_BASE64 = Field(description="the content, base64 (RFC 4648, with padding)")


class DeliveryTenant(CamelModel):
    id: str = Field(description="the tenant (authority) this delivery is for")
    name: str


class DeliveryService(CamelModel):
    leika_key: LeikaKey
    name: str | None = Field(description="as the portal named it")


class DeliveryRegion(CamelModel):
    ars: ARS
    ags: AGS


class DeliveryDataManifest(CamelModel):
    mime_type: str
    schema_uri: str | None = Field(description="the form data's schema, if the portal named one")
    size: int = Field(ge=0, description="bytes")
    sha256: str = _SHA256


class DeliveryAttachmentManifest(CamelModel):
    id: str
    filename: str = Field(description="as uploaded (may need sanitising before use as a path)")
    mime_type: str
    purpose: AttachmentPurpose
    size: int = Field(ge=0, description="bytes")
    sha256: str = _SHA256


class DeliveryManifest(CamelModel):
    """The delivery without contents: the ``envelope`` part of a ``multipart`` delivery (the
    ``data`` part and one ``attachment`` part per attachment follow, in this order)."""

    application_id: str
    delivery_id: str = Field(description="equal on every attempt (= webhook-id): drop duplicates")
    attempt: int = Field(ge=1)
    tenant: DeliveryTenant
    route_id: str
    service: DeliveryService
    region: DeliveryRegion
    reference: str | None = Field(description="the portal's case number, if it sent one")
    submitted_at: datetime
    data: DeliveryDataManifest
    attachments: Sequence[DeliveryAttachmentManifest]


class DeliveryData(DeliveryDataManifest):
    content_base64: str = _BASE64


class DeliveryAttachment(DeliveryAttachmentManifest):
    content_base64: str = _BASE64


class DeliveryDocument(DeliveryManifest):
    """The body of a ``format: json`` delivery: the manifest with every content inline."""

    data: DeliveryData
    attachments: Sequence[DeliveryAttachment]
