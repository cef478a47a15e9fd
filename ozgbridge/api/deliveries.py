"""``/v1/deliveries``: list, show, replay (one or in bulk) and cancel deliveries."""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ozgbridge.api import intake
from ozgbridge.api.problems import TYPE_INVALID_JSON, Problem, validation_problem
from ozgbridge.api.schemas_ops import (
    AttemptOut,
    BulkReplayIn,
    BulkReplayOut,
    CancelIn,
    DeliveryDetailOut,
    DeliveryItemOut,
    DeliveryPageOut,
    DeliveryQuery,
    ReplayedOut,
    ReplayIn,
)
from ozgbridge.api.scope import actor, operating_key, own_tenants, tenants_for
from ozgbridge.api.state import OPERATIONS, SETTINGS
from ozgbridge.domain import DeliveryState
from ozgbridge.errors import ActionRefused
from ozgbridge.ids import is_id
from ozgbridge.store.delivery_actions import DeliveryNotFound
from ozgbridge.store.delivery_views import AttemptRecord, DeliveryFilter, DeliveryItem
from ozgbridge.tenants import ApiKey

TYPE_STATE_CONFLICT = "urn:ozgbridge:problem:state-conflict"
_CURSOR_PREFIX = "d1:"
M = TypeVar("M", bound=BaseModel)


def encode_cursor(delivery_id: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{delivery_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a cursor points below; a 422 problem for anything we did not hand out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX) or not is_id(text[len(_CURSOR_PREFIX) :]):
        raise Problem(422, "cursor: not a cursor this API handed out (use `next` as it is)")
    return text[len(_CURSOR_PREFIX) :]


def item_out(item: DeliveryItem) -> DeliveryItemOut:
    return DeliveryItemOut(
        id=item.id,
        application_id=item.application_id,
        tenant=item.tenant_id,
        route=item.route_id,
        connector=item.connector,
        service=item.service,
        state=item.state,
        attempts=item.attempts,
        last_error=item.last_error,
        last_status_code=item.last_status_code,
        next_attempt_at=item.next_attempt_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        delivered_at=item.delivered_at,
        cancelled_at=item.cancelled_at,
    )


def detail_out(item: DeliveryItem, attempts: list[AttemptRecord]) -> DeliveryDetailOut:
    return DeliveryDetailOut(
        **{
            k: v
            for k, v in item_out(item).model_dump().items()
            if k not in ("attempts", "delivered_at", "cancelled_at")
        },
        attempt_count=item.attempts,
        ladder_rung=item.rung,
        queued_at=item.queued_at,
        delivered_at=item.delivered_at,
        cancelled_at=item.cancelled_at,
        cancel_reason=item.cancel_reason,
        remote_reference=item.remote_reference,
        attempts=[
            AttemptOut(
                number=a.number,
                started_at=a.started_at,
                duration_ms=a.duration_ms,
                outcome=a.outcome,
                status_code=a.status_code,
                error=a.error,
                response_excerpt=a.response_excerpt,
            )
            for a in attempts
        ],
    )


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=model.model_dump_json(by_alias=True),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _query(request: web.Request) -> DeliveryQuery:
    # An empty value is a value (refused unless the document allows it), not an absent filter.
    params = dict(request.query)
    try:
        return DeliveryQuery.model_validate(params)
    except ValidationError as exc:
        raise validation_problem(exc) from None


async def read_body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """The JSON body as ``model``: 400 for broken JSON, 415/413 as for submissions, 422 for
    invalid fields. With ``optional``, no body at all means the model's defaults."""
    if optional and not request.can_read_body:
        return model()
    raw = await intake.read_json_body(request, request.app[SETTINGS].max_body_bytes)
    try:
        # Strict: a JSON body's types are as documented (no 0 for false, no "5" for 5).
        return model.model_validate_json(raw, strict=True, by_name=False)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                raise Problem(
                    400, "body is not valid JSON", type=TYPE_INVALID_JSON, title="Malformed JSON"
                ) from None
        raise validation_problem(exc) from None


def _delivery_id(request: web.Request) -> str:
    delivery_id = request.match_info["id"]
    if not is_id(delivery_id):
        raise Problem(404, "no such delivery visible to this API key")
    return delivery_id


def _conflict(refusal: ActionRefused) -> Problem:
    return Problem(409, str(refusal), type=TYPE_STATE_CONFLICT, title="Not possible in this state")


async def list_deliveries(request: web.Request) -> web.StreamResponse:
    """GET /v1/deliveries: newest first, keyset-paginated."""
    key = operating_key(request)
    query = _query(request)
    below = decode_cursor(query.cursor) if query.cursor else None
    where = DeliveryFilter(
        state=query.state,
        tenants=tenants_for(key, query.tenant),
        route=query.route,
        service=query.service,
        since=query.since,
        until=query.until,
    )
    items, boundary = await request.app[OPERATIONS].views.page(
        where, limit=query.limit, below=below
    )
    return _json(
        DeliveryPageOut(
            items=[item_out(i) for i in items],
            next=encode_cursor(boundary) if boundary is not None else None,
        )
    )


async def _visible(request: web.Request, key: ApiKey, delivery_id: str) -> DeliveryItem:
    item = await request.app[OPERATIONS].views.get(delivery_id)
    scope = own_tenants(key)
    if item is None or (scope is not None and item.tenant_id not in scope):
        raise Problem(404, "no such delivery visible to this API key")
    return item


async def get_delivery(request: web.Request) -> web.StreamResponse:
    """GET /v1/deliveries/{id}: the delivery with every attempt."""
    key = operating_key(request)
    item = await _visible(request, key, _delivery_id(request))
    attempts = await request.app[OPERATIONS].views.attempts(item.id)
    return _json(detail_out(item, attempts))


async def replay_delivery(request: web.Request) -> web.StreamResponse:
    """POST /v1/deliveries/{id}/replay: attempt again at once, same id, fresh ladder."""
    key = operating_key(request)
    delivery_id = _delivery_id(request)
    body = await read_body(request, ReplayIn, optional=True)
    try:
        item = await request.app[OPERATIONS].replay(
            delivery_id, actor=actor(key), force=body.force, tenants=own_tenants(key)
        )
    except DeliveryNotFound:
        raise Problem(404, "no such delivery visible to this API key") from None
    except ActionRefused as refusal:
        raise _conflict(refusal) from None
    return _json(ReplayedOut(id=item.id), 202)


async def bulk_replay(request: web.Request) -> web.StreamResponse:
    """POST /v1/deliveries/replay: replay every dead (or cancelled) delivery matching a filter."""
    key = operating_key(request)
    body = await read_body(request, BulkReplayIn)
    chosen = body.filter
    where = DeliveryFilter(
        state=DeliveryState(chosen.state),
        tenants=tenants_for(key, chosen.tenant),
        route=chosen.route,
        service=chosen.service,
        since=chosen.since,
        until=chosen.until,
    )
    try:
        result = await request.app[OPERATIONS].bulk_replay(
            where, actor=actor(key), dry_run=body.dry_run
        )
    except ActionRefused as refusal:
        raise _conflict(refusal) from None
    return _json(BulkReplayOut(matched=result.matched, replayed=result.replayed))


async def cancel_delivery(request: web.Request) -> web.StreamResponse:
    """POST /v1/deliveries/{id}/cancel: never deliver this one (until replayed)."""
    key = operating_key(request)
    delivery_id = _delivery_id(request)
    body = await read_body(request, CancelIn)
    try:
        item = await request.app[OPERATIONS].cancel(
            delivery_id, actor=actor(key), reason=body.reason, tenants=own_tenants(key)
        )
    except DeliveryNotFound:
        raise Problem(404, "no such delivery visible to this API key") from None
    except ActionRefused as refusal:
        raise _conflict(refusal) from None
    return _json(item_out(item))


def setup_delivery_routes(app: web.Application) -> None:
    app.router.add_get("/v1/deliveries", list_deliveries)
    app.router.add_post("/v1/deliveries/replay", bulk_replay)
    app.router.add_get("/v1/deliveries/{id}", get_delivery)
    app.router.add_post("/v1/deliveries/{id}/replay", replay_delivery)
    app.router.add_post("/v1/deliveries/{id}/cancel", cancel_delivery)
