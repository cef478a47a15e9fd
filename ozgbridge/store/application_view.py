"""The status view of one application, as `GET /v1/applications/{id}` shows it: metadata, never
content, and each delivery with the back-end's answer to its last attempt (opened with the data
keys; a missing key leaves that answer out and says which)."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.dataprotection.sealing import Sealer, attempt_response_aad
from ozgbridge.domain import ApplicationStatus, DeliveryState
from ozgbridge.errors import DataProtectionError
from ozgbridge.store.records import ApplicationView, DeliveryView
from ozgbridge.store.tables import applications, attachments, attempts, deliveries

log = structlog.get_logger("ozgbridge.store")


async def read_application(
    engine: AsyncEngine, sealer: Sealer, application_id: str
) -> ApplicationView | None:
    """The application's metadata and each delivery with the back-end's last answer (opened)."""
    async with engine.connect() as conn:
        app = (
            await conn.execute(
                select(
                    *[c for c in applications.c if c.name not in ("data", "data_key_id")],
                    select(func.count())
                    .where(attachments.c.application_id == applications.c.id)
                    .scalar_subquery()
                    .label("attachment_count"),
                ).where(applications.c.id == application_id)
            )
        ).first()
        if app is None:
            return None
        # The last attempt of each delivery, for the back-end's answer to it (sealed).
        earlier = attempts.alias("earlier")
        last_number = (
            select(func.max(earlier.c.number))
            .where(earlier.c.delivery_id == deliveries.c.id)
            .scalar_subquery()
        )
        rows = (
            await conn.execute(
                select(
                    deliveries,
                    attempts.c.number.label("last_number"),
                    attempts.c.response_excerpt.label("last_response"),
                    attempts.c.response_key_id.label("last_response_key_id"),
                )
                .select_from(
                    deliveries.outerjoin(
                        attempts,
                        and_(
                            attempts.c.delivery_id == deliveries.c.id,
                            attempts.c.number == last_number,
                        ),
                    )
                )
                .where(deliveries.c.application_id == application_id)
                .order_by(deliveries.c.created_at)
            )
        ).all()
    return ApplicationView(
        id=app.id,
        tenant_id=app.tenant_id,
        leika_key=app.leika_key,
        service_name=app.service_name,
        ars=app.ars,
        ags=app.ags,
        reference=app.reference,
        submitted_by=app.submitted_by,
        status=ApplicationStatus(app.status),
        received_at=app.received_at,
        updated_at=app.updated_at,
        data_mime_type=app.data_mime_type,
        data_size=app.data_size,
        attachment_count=app.attachment_count,
        content_purged_at=app.content_purged_at,
        processing_status=app.processing_status,
        deliveries=tuple(
            DeliveryView(
                id=d.id,
                route_id=d.route_id,
                connector=d.connector,
                state=DeliveryState(d.state),
                attempts=d.attempts,
                next_attempt_at=(
                    d.next_attempt_at
                    if d.state in (DeliveryState.PENDING, DeliveryState.DELIVERING)
                    else None
                ),
                last_error=d.last_error,
                last_status_code=d.last_status_code,
                remote_reference=d.remote_reference,
                delivered_at=d.delivered_at,
                last_response=_last_response(sealer, d),
            )
            for d in rows
        ),
    )


def _last_response(sealer: Sealer, row: Any) -> str | None:
    if row.last_response is None:
        return None
    try:
        excerpt = sealer.open(
            row.last_response,
            row.last_response_key_id,
            attempt_response_aad(row.id, row.last_number),
            what=f"the back-end's answer to attempt {row.last_number} of delivery {row.id}",
        )
    except DataProtectionError as exc:
        # The status view still answers; the operator learns which key is missing.
        log.warning(
            "store.content_unreadable",
            delivery_id=row.id,
            error=type(exc).__name__,
            key_id=getattr(exc, "key_id", None),
        )
        return None
    return excerpt.decode("utf-8", errors="replace")
