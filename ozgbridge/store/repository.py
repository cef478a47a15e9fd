"""Intake and read side of the store: accepting applications, idempotency, status views."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import (
    ApplicationStatus,
    AttachmentData,
    DeliveryState,
    Envelope,
    FormData,
    RegionRef,
    ServiceRef,
    sha256_hex,
    utcnow,
)
from ozgbridge.store.notify import notify_in
from ozgbridge.store.records import (
    ApplicationView,
    ClaimedDelivery,
    DeliveryView,
    IdempotencyRecord,
    NewApplication,
)
from ozgbridge.store.tables import applications, attachments, deliveries, idempotency_keys


class IdempotencyKeyTaken(Exception):
    """Another request stored an answer for this Idempotency-Key first (a concurrent retry)."""


class Repository:
    """The one interface to stored applications; works the same on SQLite and PostgreSQL."""

    def __init__(self, engine: AsyncEngine, *, notify: bool = True) -> None:
        self.engine = engine
        # On PostgreSQL, tell workers in other processes that work arrived (see notify.py).
        self.notify = notify and engine.dialect.name == "postgresql"

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def find_idempotent(self, api_key_id: str, key: str) -> IdempotencyRecord | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.api_key_id == api_key_id, idempotency_keys.c.key == key
                    )
                )
            ).first()
        if row is None:
            return None
        return IdempotencyRecord(
            api_key_id=row.api_key_id,
            key=row.key,
            request_sha256=row.request_sha256,
            response_status=row.response_status,
            response_body=row.response_body,
        )

    async def accept(
        self, new: NewApplication, *, idempotency: IdempotencyRecord | None = None
    ) -> None:
        """Store application, attachments, delivery, idempotency answer and audit in ONE commit.

        Raises `IdempotencyKeyTaken` when a concurrent request with the same key won the race.
        """
        now = utcnow()
        data_sha256 = sha256_hex(new.data)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    applications.insert().values(
                        id=new.id,
                        tenant_id=new.tenant_id,
                        leika_key=new.leika_key,
                        service_name=new.service_name,
                        ars=new.region.ars,
                        ags=new.region.ags,
                        reference=new.reference,
                        submitted_by=new.submitted_by,
                        status=ApplicationStatus.RECEIVED,
                        data_mime_type=new.data_mime_type,
                        data_schema_uri=new.data_schema_uri,
                        data_sha256=data_sha256,
                        data_size=len(new.data),
                        data=new.data,
                        received_at=now,
                        updated_at=now,
                    )
                )
                if new.attachments:
                    await conn.execute(
                        attachments.insert(),
                        [
                            {
                                "id": a.id,
                                "application_id": new.id,
                                "position": position,
                                "filename": a.filename,
                                "mime_type": a.mime_type,
                                "purpose": a.purpose,
                                "sha256": sha256_hex(a.content),
                                "size": len(a.content),
                                "content": a.content,
                            }
                            for position, a in enumerate(new.attachments)
                        ],
                    )
                await conn.execute(
                    deliveries.insert().values(
                        id=new.delivery_id,
                        application_id=new.id,
                        tenant_id=new.tenant_id,
                        route_id=new.route_id,
                        connector=new.connector,
                        state=DeliveryState.PENDING,
                        attempts=0,
                        next_attempt_at=now + timedelta(seconds=new.first_attempt_delay),
                        created_at=now,
                        updated_at=now,
                    )
                )
                if idempotency is not None:
                    await conn.execute(
                        idempotency_keys.insert().values(
                            api_key_id=idempotency.api_key_id,
                            key=idempotency.key,
                            request_sha256=idempotency.request_sha256,
                            application_id=new.id,
                            response_status=idempotency.response_status,
                            response_body=idempotency.response_body,
                            created_at=now,
                        )
                    )
                if self.notify:
                    await notify_in(conn)
                await audit.append(
                    conn,
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
                )
        except IntegrityError as exc:
            if idempotency is not None and await self.find_idempotent(
                idempotency.api_key_id, idempotency.key
            ):
                raise IdempotencyKeyTaken(idempotency.key) from exc
            raise

    async def get_application(self, application_id: str) -> ApplicationView | None:
        async with self.engine.connect() as conn:
            app = (
                await conn.execute(
                    select(
                        *[c for c in applications.c if c.name != "data"],
                        select(func.count())
                        .where(attachments.c.application_id == applications.c.id)
                        .scalar_subquery()
                        .label("attachment_count"),
                    ).where(applications.c.id == application_id)
                )
            ).first()
            if app is None:
                return None
            rows = (
                await conn.execute(
                    select(deliveries)
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
            deliveries=tuple(
                DeliveryView(
                    id=d.id,
                    route_id=d.route_id,
                    connector=d.connector,
                    state=DeliveryState(d.state),
                    attempts=d.attempts,
                    next_attempt_at=(
                        d.next_attempt_at
                        if d.state in (DeliveryState.PENDING, DeliveryState.LEASED)
                        else None
                    ),
                    last_error=d.last_error,
                    last_status_code=d.last_status_code,
                    remote_reference=d.remote_reference,
                    delivered_at=d.delivered_at,
                )
                for d in rows
            ),
        )

    async def load_envelope(self, claimed: ClaimedDelivery, *, tenant_name: str) -> Envelope:
        """Everything the connector needs for this attempt, contents included."""
        async with self.engine.connect() as conn:
            app = (
                await conn.execute(
                    select(applications).where(applications.c.id == claimed.application_id)
                )
            ).one()
            files = (
                await conn.execute(
                    select(attachments)
                    .where(attachments.c.application_id == claimed.application_id)
                    .order_by(attachments.c.position)
                )
            ).all()
        return Envelope(
            application_id=app.id,
            delivery_id=claimed.id,
            attempt=claimed.attempt,
            tenant_id=claimed.tenant_id,
            tenant_name=tenant_name,
            route_id=claimed.route_id,
            service=ServiceRef(leika_key=app.leika_key, name=app.service_name),
            region=RegionRef(ars=app.ars, ags=app.ags),
            reference=app.reference,
            submitted_at=app.received_at,
            data=FormData(
                mime_type=app.data_mime_type, schema_uri=app.data_schema_uri, content=app.data
            ),
            attachments=tuple(
                AttachmentData(
                    id=f.id,
                    filename=f.filename,
                    mime_type=f.mime_type,
                    purpose=f.purpose,
                    content=f.content,
                )
                for f in files
            ),
        )
