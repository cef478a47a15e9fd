"""Reading claimed deliveries' envelopes: rows in two queries, content opened with the data keys.

The worker and connectors only ever see plaintext envelopes. A row that cannot be opened — its
data key is not configured, it does not authenticate, or retention purged it — fails only its
own delivery: the others of the batch are delivered, and that one gets a `DeliveryError`
(retriable for a missing key, which the operator can add back; permanent otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.dataprotection.sealing import (
    Sealer,
    application_data_aad,
    attachment_content_aad,
    attachment_filename_aad,
)
from ozgbridge.domain import AttachmentData, Envelope, FormData, RegionRef, ServiceRef
from ozgbridge.errors import (
    ContentPurgedError,
    DataProtectionError,
    DeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
    UnknownDataKeyError,
)
from ozgbridge.store.payloads import SIZES_AND_FILES
from ozgbridge.store.records import ClaimedDelivery
from ozgbridge.store.tables import applications, attachments

log = structlog.get_logger("ozgbridge.store")

Unreadable = dict[str, DataProtectionError]  # by delivery id

# Built once (the worker reads envelopes for every claim).
_APPLICATIONS = select(applications).where(applications.c.id.in_(bindparam("ids", expanding=True)))
_ATTACHMENTS = (
    select(attachments)
    .where(attachments.c.application_id.in_(bindparam("ids", expanding=True)))
    .order_by(attachments.c.application_id, attachments.c.position)
)


async def read_envelopes(
    engine: AsyncEngine,
    sealer: Sealer,
    claimed: Sequence[ClaimedDelivery],
    tenant_names: Mapping[str, str],
    *,
    max_size: int | None = None,
) -> tuple[dict[str, Envelope], Unreadable]:
    """Envelopes keyed by delivery id, and the deliveries whose content cannot be opened.

    ``max_size``: only applications with at most this many bytes of content; the others are
    left out (their attempts load them one by one, under the worker's payload budget). Sizes,
    rows and files are read on one connection: each connection costs a BEGIN and a ROLLBACK.
    """
    by_application = {c.application_id: c for c in claimed}
    async with engine.connect() as conn:
        if max_size is None:
            wanted = with_files = list(by_application)
        else:
            sizes = await conn.execute(SIZES_AND_FILES, {"ids": list(by_application)})
            small = [(row[0], row[2]) for row in sizes if row[1] <= max_size]
            wanted = [application_id for application_id, _files in small]
            with_files = [application_id for application_id, files in small if files]
        apps = (await conn.execute(_APPLICATIONS, {"ids": wanted})).all() if wanted else []
        files = (await conn.execute(_ATTACHMENTS, {"ids": with_files})).all() if with_files else []
    files_of: dict[str, list[Any]] = {}
    for f in files:
        files_of.setdefault(f.application_id, []).append(f)
    envelopes: dict[str, Envelope] = {}
    unreadable: Unreadable = {}
    for app in apps:
        delivery = by_application[app.id]
        try:
            envelopes[delivery.id] = _envelope(
                sealer, app, files_of.get(app.id, []), delivery, tenant_names
            )
        except DataProtectionError as exc:
            unreadable[delivery.id] = exc
            log.warning(
                "store.content_unreadable",
                application_id=app.id,
                delivery_id=delivery.id,
                error=type(exc).__name__,
                key_id=getattr(exc, "key_id", None),
            )
    return envelopes, unreadable


def _envelope(
    sealer: Sealer,
    app: Any,
    files: list[Any],
    delivery: ClaimedDelivery,
    tenant_names: Mapping[str, str],
) -> Envelope:
    if app.content_purged_at is not None:
        raise ContentPurgedError(app.id, app.content_purged_at)
    # model_construct: these values were validated when the application was accepted, and
    # validating them again for every delivery attempt cost as much as recording its outcome.
    return Envelope.model_construct(
        application_id=app.id,
        delivery_id=delivery.id,
        attempt=delivery.attempt,
        tenant_id=delivery.tenant_id,
        tenant_name=tenant_names.get(delivery.tenant_id, delivery.tenant_id),
        route_id=delivery.route_id,
        service=ServiceRef.model_construct(leika_key=app.leika_key, name=app.service_name),
        region=RegionRef.model_construct(ars=app.ars, ags=app.ags),
        reference=app.reference,
        submitted_at=app.received_at,
        data=FormData.model_construct(
            mime_type=app.data_mime_type,
            schema_uri=app.data_schema_uri,
            content=sealer.open(
                app.data,
                app.data_key_id,
                application_data_aad(app.id),
                what=f"the form data of application {app.id}",
            ),
        ),
        attachments=tuple(
            AttachmentData.model_construct(
                id=f.id,
                filename=sealer.open(
                    f.filename,
                    f.key_id,
                    attachment_filename_aad(f.id),
                    what=f"the file name of attachment {f.id}",
                ).decode("utf-8"),
                mime_type=f.mime_type,
                purpose=f.purpose,
                content=sealer.open(
                    f.content,
                    f.key_id,
                    attachment_content_aad(f.id),
                    what=f"attachment {f.id}",
                ),
            )
            for f in files
        ),
        ping=False,
    )


def as_delivery_error(exc: DataProtectionError) -> DeliveryError:
    """What a delivery whose content cannot be opened records as its attempt's outcome."""
    if isinstance(exc, UnknownDataKeyError):
        # The operator can add the key back: worth trying again along the ladder.
        return RetriableDeliveryError(
            f"stored content cannot be opened: data key {exc.key_id!r} is not configured"
        )
    if isinstance(exc, ContentPurgedError):
        return PermanentDeliveryError(str(exc))
    return PermanentDeliveryError(f"stored content cannot be opened: {exc}")
