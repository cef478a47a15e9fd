"""Submitting an application (Antrag) and reading its status.

A 202 is sent only after `Repository.accept` committed the application, its delivery and the audit
events in one transaction: an answered submission is never lost. Everything that can be refused
(size, type, syntax, fields, routing) is refused before that commit, so a refusal stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from aiohttp import web

from ozgbridge import status
from ozgbridge.api import intake
from ozgbridge.api.auth import authenticate
from ozgbridge.api.headers import link_base
from ozgbridge.api.problems import TYPE_IDEMPOTENCY_CONFLICT, TYPE_UNROUTABLE, Problem
from ozgbridge.api.schemas import ApplicationIn
from ozgbridge.api.schemas_out import (
    AcceptedOut,
    ApplicationOut,
    DataOut,
    DeliveryOut,
    ForwardedFromOut,
    Links,
    StatusEntryOut,
)
from ozgbridge.api.state import (
    INTAKE_BUDGET,
    ON_ACCEPTED,
    REPOSITORY,
    SETTINGS,
    current_deployment,
    current_router,
)
from ozgbridge.domain import ApplicationStatus, RegionRef, ServiceRef
from ozgbridge.errors import RoutingError
from ozgbridge.ids import is_id, new_id
from ozgbridge.intake import count_unmet_demand
from ozgbridge.routing import Resolution
from ozgbridge.store.records import (
    ApplicationView,
    IdempotencyRecord,
    NewApplication,
    NewAttachment,
)
from ozgbridge.store.repository import IdempotencyKeyTaken
from ozgbridge.tenants import ApiKey, Role

REPLAYED_HEADER = "Idempotent-Replayed"

log = structlog.get_logger("ozgbridge.api.applications")


def _replay(stored: IdempotencyRecord, request_sha256: str) -> web.Response:
    if stored.request_sha256 != request_sha256:
        raise Problem(
            409,
            f"this {intake.IDEMPOTENCY_HEADER} was already used for a different request body; "
            "use a new key for a new application",
            type=TYPE_IDEMPOTENCY_CONFLICT,
        )
    log.info("application.replayed", api_key_id=stored.api_key_id)
    headers = {REPLAYED_HEADER: "true"}
    if stored.response_status == 202:
        headers["Location"] = AcceptedOut.model_validate_json(stored.response_body).links.self_
    return web.Response(
        status=stored.response_status,
        text=stored.response_body,
        content_type="application/json",
        headers=headers,
    )


async def submit(request: web.Request) -> web.StreamResponse:
    """POST /v1/applications: validate, route, store durably, answer 202."""
    app = request.app
    settings = app[SETTINGS]
    key = authenticate(request, current_deployment(request))
    if key.role is not Role.PORTAL:
        raise Problem(403, f"role {key.role} may not submit applications")
    idempotency_key = intake.idempotency_key(request)
    received = await intake.receive(request, settings.max_body_bytes, settings.spool_dir)
    try:
        async with intake.budgeted(app[INTAKE_BUDGET], received, settings.intake_budget_wait):
            return await _accept(request, key, idempotency_key, received)
    finally:
        received.close()


async def _accept(
    request: web.Request, key: ApiKey, idempotency_key: str | None, received: intake.Received
) -> web.StreamResponse:
    app = request.app
    settings, repository = app[SETTINGS], app[REPOSITORY]
    digest = received.sha256
    if idempotency_key is not None:
        stored = await repository.find_idempotent(key.id, idempotency_key)
        if stored is not None:
            return _replay(stored, digest)

    body = await received.parse(settings.max_attachments)
    region = body.region.to_ref()
    try:
        resolution = current_router(request).resolve(body.service.leika_key, region)
    except RoutingError as exc:
        await count_unmet_demand(repository, exc)
        raise Problem(
            422, str(exc), type=TYPE_UNROUTABLE, title="No responsible authority"
        ) from None

    new = _new_application(body, region, key, resolution)
    location = f"{link_base(settings)}/v1/applications/{new.id}"
    answer = AcceptedOut(
        id=new.id,
        status=ApplicationStatus.RECEIVED,
        tenant=new.tenant_id,
        links=Links(self_=location),
    ).model_dump_json(by_alias=True)
    record = (
        IdempotencyRecord(key.id, idempotency_key, digest, 202, answer)
        if idempotency_key is not None
        else None
    )
    try:
        await repository.accept(new, idempotency=record)
    except IdempotencyKeyTaken:
        # A concurrent request with the same key committed first; answer as its retry would.
        stored = await repository.find_idempotent(key.id, idempotency_key or "")
        if stored is None:
            raise
        return _replay(stored, digest)

    log.info(
        "application.accepted",
        application_id=new.id,
        delivery_id=new.delivery_id,
        tenant_id=new.tenant_id,
        route_id=new.route_id,
        reason=new.routing_reason,
        leika_key=new.leika_key,
        data_size=len(new.data),
        attachments=len(new.attachments),
    )
    _notify(app[ON_ACCEPTED])
    return web.Response(
        status=202, text=answer, content_type="application/json", headers={"Location": location}
    )


def _new_application(
    body: ApplicationIn, region: RegionRef, key: ApiKey, resolution: Resolution
) -> NewApplication:
    return NewApplication.routed(
        resolution,
        leika_key=body.service.leika_key,
        service_name=body.service.name,
        region=region,
        reference=body.reference,
        submitted_by=key.id,
        data_mime_type=body.data.mime_type,
        data_schema_uri=body.data.schema_uri,
        data=body.data.payload,
        attachments=tuple(
            NewAttachment(
                id=new_id(),
                filename=a.filename,
                mime_type=a.mime_type,
                purpose=a.purpose,
                content=a.content_base64,
            )
            for a in body.attachments
        ),
        portal_events=key.events is not None,
    )


def _notify(on_accepted: Callable[[], None] | None) -> None:
    if on_accepted is None:
        return
    try:
        on_accepted()
    except Exception:
        # Only a wake-up hint: the application is committed and the worker polls anyway.
        log.exception("api.on_accepted_failed")


def _may_see(key: ApiKey, view: ApplicationView) -> bool:
    if key.role is Role.OPERATOR:
        return True
    if key.role is Role.PORTAL:
        return view.submitted_by == key.id
    if key.role is Role.TENANT:
        return view.tenant_id == key.tenant
    return False


async def get_application(request: web.Request) -> web.StreamResponse:
    """GET /v1/applications/{id}: status and deliveries, never contents."""
    app = request.app
    key = authenticate(request, current_deployment(request))
    if key.role is Role.COORDINATOR:
        raise Problem(403, "coordinators see aggregates only")
    if key.role is Role.METRICS:
        raise Problem(403, "metrics keys read /metrics only")
    application_id = request.match_info["id"]
    view = await app[REPOSITORY].get_application(application_id) if is_id(application_id) else None
    # The same answer for "missing" and "not yours": a key must not learn which ids exist.
    if view is None or not _may_see(key, view):
        raise Problem(404, "no such application visible to this API key")
    engine = app[REPOSITORY].engine
    entries = await status.history(engine, view.id, app[REPOSITORY].sealer)
    moves = await status.forwarded_from(engine, view.id)
    # Read again: the reads are separate, and a status committed after the first one would show
    # in the history but not yet in processingStatus. Now the view is at least as new.
    view = await app[REPOSITORY].get_application(application_id) or view
    if not _may_see(key, view):  # forwarded away in between
        raise Problem(404, "no such application visible to this API key")
    return web.Response(
        text=_application_out(view, entries, moves).model_dump_json(by_alias=True),
        content_type="application/json",
    )


def _application_out(
    view: ApplicationView, entries: list[status.StatusEntry], moves: list[status.Forwarding]
) -> ApplicationOut:
    return ApplicationOut(
        id=view.id,
        status=view.status,
        tenant=view.tenant_id,
        service=ServiceRef(leika_key=view.leika_key, name=view.service_name),
        region=RegionRef(ars=view.ars, ags=view.ags),
        reference=view.reference,
        received_at=view.received_at,
        updated_at=view.updated_at,
        data=DataOut(mime_type=view.data_mime_type, size=view.data_size),
        attachment_count=view.attachment_count,
        deliveries=[
            DeliveryOut(
                id=d.id,
                route_id=d.route_id,
                connector=d.connector,
                state=d.state,
                attempts=d.attempts,
                next_attempt_at=d.next_attempt_at,
                last_error=d.last_error,
                last_status_code=d.last_status_code,
                remote_reference=d.remote_reference,
                delivered_at=d.delivered_at,
                last_response=d.last_response,
            )
            for d in view.deliveries
        ],
        processing_status=view.processing_status,
        status_history=[
            StatusEntryOut(
                id=e.id,
                at=e.at,
                source=e.source,
                status=e.status,
                note=e.note,
                file_reference=e.file_reference,
                detail=e.detail,
            )
            for e in entries
        ],
        content_purged_at=view.content_purged_at,
        forwarded_from=[ForwardedFromOut(tenant=m.from_tenant, at=m.at, by=m.by) for m in moves],
    )
