"""The status back-channel's endpoints.

- ``POST /v1/applications/{id}/status`` — a tenant key of the tenant the application is with now,
  or an operator, reports a processing status (`ozgbridge.status_desk`);
- ``GET /v1/applications?status=…`` — applications by status, e.g. the unroutable ones;
(The portal events outbox's endpoints are in `ozgbridge.api.event_routes`.)

The note is personal data: it is stored and shown, never logged (the log line of a report names
ids, status and tenants only).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ozgbridge.api import intake
from ozgbridge.api.applications import REPLAYED_HEADER
from ozgbridge.api.auth import authenticate
from ozgbridge.api.problems import (
    TYPE_IDEMPOTENCY_CONFLICT,
    TYPE_INVALID_JSON,
    TYPE_VALIDATION,
    Problem,
    validation_problem,
)
from ozgbridge.api.schemas_formats import is_count
from ozgbridge.api.schemas_out import FieldError
from ozgbridge.api.schemas_status import (
    ApplicationListOut,
    ApplicationSummaryOut,
    StatusAcceptedOut,
    StatusIn,
)
from ozgbridge.api.state import REPOSITORY, STATUS_DESK, current_deployment, current_router
from ozgbridge.api.strictjson import refuse_duplicate_keys
from ozgbridge.domain import ApplicationStatus, RegionRef, ServiceRef, sha256_hex
from ozgbridge.ids import is_id
from ozgbridge.status_desk import Recorded, Reporter
from ozgbridge.status_rules import Refusal
from ozgbridge.store.listings import list_applications
from ozgbridge.store.records import IdempotencyRecord
from ozgbridge.store.repository import IdempotencyKeyTaken
from ozgbridge.tenants import Role

MAX_STATUS_BODY_BYTES = 64 * 1024  # a note of 2,000 characters is at most 8 KB of UTF-8
MAX_PAGE = 500
DEFAULT_PAGE = 100
TYPE_STATUS_CONFLICT = "urn:ozgbridge:problem:status-conflict"


def json_answer(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=model.model_dump_json(by_alias=True),
        content_type="application/json",
    )


def _parse_status(raw: bytes) -> StatusIn:
    refuse_duplicate_keys(raw)
    try:
        return StatusIn.model_validate_json(raw, by_name=False)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                raise Problem(
                    400, "body is not valid JSON", type=TYPE_INVALID_JSON, title="Malformed JSON"
                ) from None
        raise validation_problem(exc) from None


async def post_status(request: web.Request) -> web.StreamResponse:
    """POST /v1/applications/{id}/status: 202 once the report (and any forwarding) committed."""
    app = request.app
    key = authenticate(request, current_deployment(request))
    if key.role not in (Role.TENANT, Role.OPERATOR):
        raise Problem(403, f"role {key.role} may not report a status (tenant or operator may)")
    application_id = request.match_info["id"]
    idempotency_key = intake.idempotency_key(request)
    raw = await intake.read_json_body(request, MAX_STATUS_BODY_BYTES)
    # The same key for another application is another request: the id is part of the digest.
    digest = sha256_hex(application_id.encode("ascii", "replace") + b"\n" + raw)
    repository = app[REPOSITORY]
    if idempotency_key is not None:
        stored = await repository.find_idempotent(key.id, idempotency_key)
        if stored is not None:
            return _replay(stored, digest)
    body = _parse_status(raw)
    reporter = Reporter(
        source=f"key:{key.id}",
        tenant=key.tenant if key.role is Role.TENANT else None,
        operator=key.role is Role.OPERATOR,
    )

    def remember(recorded: Recorded) -> IdempotencyRecord:
        answer = _accepted(recorded, body, application_id).model_dump_json(by_alias=True)
        return IdempotencyRecord(key.id, idempotency_key or "", digest, 202, answer)

    try:
        outcome = (
            await app[STATUS_DESK].report(
                application_id,
                body.to_report(),
                reporter,
                current_router(request),
                remember=remember if idempotency_key is not None else None,
            )
            if is_id(application_id)
            else None
        )
    except IdempotencyKeyTaken:
        stored = await repository.find_idempotent(key.id, idempotency_key or "")
        if stored is None:
            raise
        return _replay(stored, digest)
    if outcome is None:
        raise Problem(404, "no such application with this API key's tenant")
    if isinstance(outcome, Refusal):
        if outcome.status == 422:
            raise Problem(422, outcome.detail, type=TYPE_VALIDATION)
        raise Problem(outcome.status, outcome.detail, type=TYPE_STATUS_CONFLICT)
    return json_answer(_accepted(outcome, body, application_id), 202)


def _accepted(recorded: Recorded, body: StatusIn, application_id: str) -> StatusAcceptedOut:
    return StatusAcceptedOut(
        id=recorded.entry.id,
        status=body.status,
        application_id=application_id,
        tenant=recorded.tenant,
        application_status=ApplicationStatus(recorded.application_status),
    )


def _replay(stored: IdempotencyRecord, digest: str) -> web.Response:
    if stored.request_sha256 != digest:
        raise Problem(
            409,
            f"this {intake.IDEMPOTENCY_HEADER} was already used for a different request; use a "
            "new key for a new report",
            type=TYPE_IDEMPOTENCY_CONFLICT,
        )
    return web.Response(
        status=stored.response_status,
        text=stored.response_body,
        content_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


def page_size(request: web.Request) -> int:
    text = request.query.get("limit")
    if text is None:
        return DEFAULT_PAGE
    # ASCII digits only: str.isdigit() takes "²", which int() then refuses (a 500).
    if not is_count(text) or not 1 <= int(text) <= MAX_PAGE:
        raise invalid("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def invalid(field: str, message: str) -> Problem:
    return Problem(
        422,
        f"{field}: {message}",
        type=TYPE_VALIDATION,
        title="Request validation failed",
        errors=[FieldError(field=field, message=message)],
    )


def _choice(request: web.Request, name: str, allowed: list[str]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise invalid(name, f"must be one of {', '.join(allowed)}")
    return value


async def get_applications(request: web.Request) -> web.StreamResponse:
    """GET /v1/applications?status=&tenant=&before=&limit=: newest first, what the key may see."""
    app = request.app
    key = authenticate(request, current_deployment(request))
    if key.role not in (Role.OPERATOR, Role.TENANT, Role.PORTAL):
        raise Problem(403, f"role {key.role} sees aggregates only")
    status = _choice(request, "status", [str(s) for s in ApplicationStatus])
    tenant = request.query.get("tenant")
    if key.role is not Role.OPERATOR and tenant is not None and tenant != key.tenant:
        raise Problem(403, "this API key may list only its own tenant's applications")
    before = request.query.get("before")
    if before is not None and not is_id(before):
        raise invalid("before", "must be an application id (the `next` of the previous page)")
    limit = page_size(request)
    rows = await list_applications(
        app[REPOSITORY].engine,
        status=status,
        tenant_id=key.tenant if key.role is Role.TENANT else tenant,
        submitted_by=key.id if key.role is Role.PORTAL else None,
        before=before,
        limit=limit,
    )
    items = [
        ApplicationSummaryOut(
            id=r.id,
            status=ApplicationStatus(r.status),
            processing_status=r.processing_status,
            tenant=r.tenant_id,
            service=ServiceRef(leika_key=r.leika_key, name=r.service_name),
            region=RegionRef(ars=r.ars, ags=r.ags),
            received_at=r.received_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
    next_page = rows[-1].id if len(rows) == limit else None
    return json_answer(ApplicationListOut(items=items, next=next_page))


def setup_status_routes(app: web.Application) -> None:
    app.router.add_get("/v1/applications", get_applications)
    app.router.add_post("/v1/applications/{id}/status", post_status)
