"""Intake and read side of the store: accepting applications, idempotency, status views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, metrics
from ozgbridge.domain import (
    ApplicationStatus,
    AttachmentData,
    DeliveryState,
    Envelope,
    FormData,
    RegionRef,
    ServiceRef,
    utcnow,
)
from ozgbridge.errors import IdempotencyKeyTaken
from ozgbridge.store.acceptance import Acceptance, AcceptanceRows, acceptance_size
from ozgbridge.store.batching import Failed, GroupCommit
from ozgbridge.store.demand import record_refusal
from ozgbridge.store.notify import notify_in
from ozgbridge.store.plugin_state import PluginState
from ozgbridge.store.records import (
    ApplicationView,
    ClaimedDelivery,
    DeliveryView,
    IdempotencyRecord,
    NewApplication,
)
from ozgbridge.store.tables import (
    applications,
    attachments,
    attempts,
    deliveries,
    idempotency_keys,
)

__all__ = ["IdempotencyKeyTaken", "Repository"]


class Repository:
    """The one interface to stored applications; works the same on SQLite and PostgreSQL."""

    def __init__(self, engine: AsyncEngine, *, notify: bool = True) -> None:
        self.engine = engine
        # On PostgreSQL, tell workers in other processes that work arrived (see notify.py).
        self.notify = notify and engine.dialect.name == "postgresql"
        self._group: GroupCommit[Acceptance, None] = GroupCommit(
            self._flush, size_of=acceptance_size
        )

    def plugin_state(self, plugin: str) -> PluginState:
        """The records plug-in ``plugin`` (a connector or intake kind) keeps in this store."""
        return PluginState(self.engine, plugin)

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
        """Store application, attachments, delivery, idempotency answer and audit events.

        Returns once committed — together with whatever other acceptances arrived meanwhile (see
        batching.py). Raises `IdempotencyKeyTaken` when a concurrent request with the same key
        won the race.
        """
        await self._group.submit((new, idempotency))
        metrics.APPLICATIONS_RECEIVED.labels(new.tenant_id, new.leika_key).inc()

    async def record_unmet_demand(self, leika_key: str, ars: str) -> bool:
        """Count a submission refused because nobody is responsible (see store/demand.py)."""
        return await record_refusal(self.engine, leika_key, ars, utcnow())

    async def _flush(self, items: list[Acceptance]) -> list[Failed | None]:
        try:
            await self._store(items)
        except IntegrityError as exc:
            if len(items) == 1:
                return [await self._explain(items[0], exc)]
            # One bad apple (usually an Idempotency-Key race): give each its own transaction so
            # only that request fails.
            return [await self._store_alone(item) for item in items]
        return [None] * len(items)

    async def _store_alone(self, item: Acceptance) -> Failed | None:
        try:
            await self._store([item])
        except IntegrityError as exc:
            return await self._explain(item, exc)
        except Exception as exc:
            return Failed(exc)
        return None

    async def _explain(self, item: Acceptance, exc: IntegrityError) -> Failed:
        idempotency = item[1]
        if idempotency is not None and await self.find_idempotent(
            idempotency.api_key_id, idempotency.key
        ):
            taken = IdempotencyKeyTaken(idempotency.key)
            taken.__cause__ = exc
            return Failed(taken)
        return Failed(exc)

    async def _store(self, items: list[Acceptance]) -> None:
        """Write a batch of acceptances in one transaction (one lock hold, one fsync)."""
        rows = AcceptanceRows.of(items, utcnow())
        async with self.engine.begin() as conn:
            await conn.execute(applications.insert(), rows.applications)
            if rows.attachments:
                await conn.execute(attachments.insert(), rows.attachments)
            await conn.execute(deliveries.insert(), rows.deliveries)
            if rows.idempotency_keys:
                await conn.execute(idempotency_keys.insert(), rows.idempotency_keys)
            if self.notify:
                await notify_in(conn)
            # Last, so the chain's lock is held as briefly as possible.
            await audit.append(conn, *rows.events)

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
            last_response = (
                select(attempts.c.response_excerpt)
                .where(attempts.c.delivery_id == deliveries.c.id)
                .order_by(attempts.c.number.desc())
                .limit(1)
                .scalar_subquery()
                .label("last_response")
            )
            rows = (
                await conn.execute(
                    select(deliveries, last_response)
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
                    last_response=d.last_response,
                )
                for d in rows
            ),
        )

    async def load_envelope(self, claimed: ClaimedDelivery, *, tenant_name: str) -> Envelope:
        """Everything the connector needs for this attempt, contents included."""
        envelopes = await self.load_envelopes([claimed], {claimed.tenant_id: tenant_name})
        return envelopes[claimed.id]

    async def load_envelopes(
        self, claimed: Sequence[ClaimedDelivery], tenant_names: Mapping[str, str]
    ) -> dict[str, Envelope]:
        """Envelopes for a whole claimed batch in two queries, keyed by delivery id."""
        by_application = {c.application_id: c for c in claimed}
        async with self.engine.connect() as conn:
            apps = (
                await conn.execute(
                    select(applications).where(applications.c.id.in_(by_application))
                )
            ).all()
            files = (
                await conn.execute(
                    select(attachments)
                    .where(attachments.c.application_id.in_(by_application))
                    .order_by(attachments.c.application_id, attachments.c.position)
                )
            ).all()
        attachments_of: dict[str, list[AttachmentData]] = {}
        for f in files:
            attachments_of.setdefault(f.application_id, []).append(
                AttachmentData(
                    id=f.id,
                    filename=f.filename,
                    mime_type=f.mime_type,
                    purpose=f.purpose,
                    content=f.content,
                )
            )
        envelopes = {}
        for app in apps:
            delivery = by_application[app.id]
            envelopes[delivery.id] = Envelope(
                application_id=app.id,
                delivery_id=delivery.id,
                attempt=delivery.attempt,
                tenant_id=delivery.tenant_id,
                tenant_name=tenant_names.get(delivery.tenant_id, delivery.tenant_id),
                route_id=delivery.route_id,
                service=ServiceRef(leika_key=app.leika_key, name=app.service_name),
                region=RegionRef(ars=app.ars, ags=app.ags),
                reference=app.reference,
                submitted_at=app.received_at,
                data=FormData(
                    mime_type=app.data_mime_type, schema_uri=app.data_schema_uri, content=app.data
                ),
                attachments=tuple(attachments_of.get(app.id, ())),
            )
        return envelopes
