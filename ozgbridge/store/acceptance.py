"""What accepting applications writes: rows for every table and the audit events, for a batch.

Content is sealed per application before it joins a group commit (`seal_content`), so the
serialised part of intake — building rows, one transaction — does no cryptography.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import (
    Sealer,
    application_data_aad,
    attachment_content_aad,
    attachment_filename_aad,
)
from ozgbridge.domain import ApplicationStatus, DeliveryState, sha256_hex
from ozgbridge.store.records import IdempotencyRecord, NewApplication


@dataclass(frozen=True)
class SealedContent:
    """An application's content as stored: form data, then (file name, content) per attachment."""

    key_id: str | None
    data: bytes = field(repr=False)
    attachments: tuple[tuple[bytes, bytes], ...] = field(repr=False)


def seal_content(new: NewApplication, sealer: Sealer) -> SealedContent:
    sealer = sealer.pinned()  # runs in a thread: a reload must not change the key midway
    return SealedContent(
        key_id=sealer.key_id,
        data=sealer.seal(new.data, application_data_aad(new.id)),
        attachments=tuple(
            (
                sealer.seal(a.filename.encode("utf-8"), attachment_filename_aad(a.id)),
                sealer.seal(a.content, attachment_content_aad(a.id)),
            )
            for a in new.attachments
        ),
    )


Acceptance = tuple[NewApplication, IdempotencyRecord | None, SealedContent]
Row = dict[str, Any]


def content_size(new: NewApplication) -> int:
    return len(new.data) + sum(len(a.content) for a in new.attachments)


def acceptance_size(item: Acceptance) -> int:
    """Bytes of content an acceptance carries (bounds the size of one group commit)."""
    return content_size(item[0])


@dataclass
class AcceptanceRows:
    applications: list[Row] = field(default_factory=list)
    attachments: list[Row] = field(default_factory=list)
    deliveries: list[Row] = field(default_factory=list)
    idempotency_keys: list[Row] = field(default_factory=list)
    events: list[audit.AuditEvent] = field(default_factory=list)

    @classmethod
    def of(cls, items: list[Acceptance], now: datetime) -> AcceptanceRows:
        rows = cls()
        for new, idempotency, sealed in items:
            rows.add(new, idempotency, sealed, now)
        return rows

    def add(
        self,
        new: NewApplication,
        idempotency: IdempotencyRecord | None,
        sealed: SealedContent,
        now: datetime,
    ) -> None:
        data_sha256 = sha256_hex(new.data)
        self.applications.append(
            {
                "id": new.id,
                "tenant_id": new.tenant_id,
                "leika_key": new.leika_key,
                "service_name": new.service_name,
                "ars": new.region.ars,
                "ags": new.region.ags,
                "reference": new.reference,
                "submitted_by": new.submitted_by,
                "status": ApplicationStatus.RECEIVED,
                "data_mime_type": new.data_mime_type,
                "data_schema_uri": new.data_schema_uri,
                "data_sha256": data_sha256,
                "data_size": len(new.data),
                "data": sealed.data,
                "data_key_id": sealed.key_id,
                "received_at": now,
                "updated_at": now,
                "portal_events": new.portal_events,
            }
        )
        self.attachments += [
            {
                "id": a.id,
                "application_id": new.id,
                "position": position,
                "filename": filename,
                "mime_type": a.mime_type,
                "purpose": a.purpose,
                "sha256": sha256_hex(a.content),
                "size": len(a.content),
                "content": content,
                "key_id": sealed.key_id,
            }
            for position, (a, (filename, content)) in enumerate(
                zip(new.attachments, sealed.attachments, strict=True)
            )
        ]
        self.deliveries.append(
            {
                "id": new.delivery_id,
                "application_id": new.id,
                "tenant_id": new.tenant_id,
                "route_id": new.route_id,
                "connector": new.connector,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_attempt_at": now + timedelta(seconds=new.first_attempt_delay),
                "created_at": now,
                "updated_at": now,
                "queued_at": now,
            }
        )
        if idempotency is not None:
            self.idempotency_keys.append(
                {
                    "api_key_id": idempotency.api_key_id,
                    "key": idempotency.key,
                    "request_sha256": idempotency.request_sha256,
                    "application_id": new.id,
                    "response_status": idempotency.response_status,
                    "response_body": idempotency.response_body,
                    "created_at": now,
                }
            )
        self.events += [
            audit.AuditEvent(
                actor=f"key:{new.submitted_by}",
                action="application.received",
                tenant_id=new.tenant_id,
                application_id=new.id,
                details={
                    "leika_key": new.leika_key,
                    "ars": new.region.ars,
                    "data_sha256": data_sha256,
                    "data_size": len(new.data),
                    "attachments": len(new.attachments),
                },
            ),
            audit.AuditEvent(
                actor="system:routing",
                action="application.routed",
                tenant_id=new.tenant_id,
                application_id=new.id,
                delivery_id=new.delivery_id,
                details={
                    "route_id": new.route_id,
                    "connector": new.connector,
                    "reason": new.routing_reason,
                },
            ),
        ]
