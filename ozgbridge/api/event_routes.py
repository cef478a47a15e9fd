"""The portal events outbox's endpoints: ``GET /v1/events`` (what was sent, what failed) and
``POST /v1/events/{id}/replay`` (send a dead one again). A portal key sees and replays its own
events, an operator all; other roles get 403.
"""

from __future__ import annotations

from aiohttp import web

from ozgbridge.api.auth import authenticate
from ozgbridge.api.problems import Problem
from ozgbridge.api.schemas_formats import is_count
from ozgbridge.api.schemas_status import PortalEventListOut, PortalEventOut
from ozgbridge.api.state import EVENT_LOG, STATUS_DESK, current_deployment
from ozgbridge.api.status_routes import TYPE_STATUS_CONFLICT, invalid, json_answer, page_size
from ozgbridge.events.model import EventState
from ozgbridge.ids import is_id
from ozgbridge.store.outbox_views import EventView
from ozgbridge.tenants import ApiKey, Role


def _event_out(view: EventView) -> PortalEventOut:
    return PortalEventOut(
        id=view.id,
        type=view.type,
        application_id=view.application_id,
        key_id=view.key_id,
        occurred_at=view.occurred_at,
        state=view.state,
        attempts=view.attempts,
        next_attempt_at=view.next_attempt_at,
        last_error=view.last_error,
        last_status_code=view.last_status_code,
        delivered_at=view.delivered_at,
    )


def _event_reader(key: ApiKey) -> str | None:
    """Whose events ``key`` may see: a portal its own (its id), an operator all (None)."""
    if key.role is Role.OPERATOR:
        return None
    if key.role is Role.PORTAL:
        return key.id
    raise Problem(403, f"role {key.role} may not see portal events (portal or operator may)")


async def get_events(request: web.Request) -> web.StreamResponse:
    """GET /v1/events?state=&application=&key=&before=&limit=: the outbox, newest first."""
    app = request.app
    key = authenticate(request, current_deployment(request))
    own = _event_reader(key)
    state = request.query.get("state")
    if state is not None and state not in set(EventState):
        raise invalid("state", f"must be one of {', '.join(EventState)}")
    wanted_key = request.query.get("key")
    if own is not None and wanted_key not in (None, own):
        raise Problem(403, "a portal key sees only its own events")
    application_id = request.query.get("application")
    if application_id is not None and not is_id(application_id):
        raise invalid("application", "must be an application id")
    before_text = request.query.get("before")
    if before_text is not None and not is_count(before_text):
        raise invalid("before", "must be the `next` of the previous page")
    limit = page_size(request)
    views = await app[EVENT_LOG].listing(
        state=state,
        key_id=own or wanted_key,
        application_id=application_id,
        before=int(before_text) if before_text is not None else None,
        limit=limit,
    )
    next_page = str(views[-1].seq) if len(views) == limit else None
    return json_answer(PortalEventListOut(items=[_event_out(v) for v in views], next=next_page))


async def replay_event(request: web.Request) -> web.StreamResponse:
    """POST /v1/events/{id}/replay: send a dead event again (operator, or its own portal)."""
    app = request.app
    key = authenticate(request, current_deployment(request))
    own = _event_reader(key)
    event_id = request.match_info["id"]
    view = await app[EVENT_LOG].get(event_id) if is_id(event_id) else None
    if view is None or (own is not None and view.key_id != own):
        raise Problem(404, "no such event visible to this API key")
    if view.state != EventState.DEAD:
        raise Problem(
            409, f"only a dead event can be replayed; this one is {view.state}",
            type=TYPE_STATUS_CONFLICT,
        )  # fmt: skip
    if view.body_purged:
        raise Problem(
            409,
            "retention deleted this event's body with the application's content: it can no "
            "longer be sent",
            type=TYPE_STATUS_CONFLICT,
        )
    replayed = await app[EVENT_LOG].replay(event_id, actor=f"key:{key.id}")
    if replayed is None:  # replayed by someone else, or purged, in between
        raise Problem(
            409, "the event is no longer dead, or its body was purged meanwhile",
            type=TYPE_STATUS_CONFLICT,
        )  # fmt: skip
    on_news = app[STATUS_DESK].on_news
    if on_news is not None:
        on_news()
    return json_answer(_event_out(replayed), 202)


def setup_event_routes(app: web.Application) -> None:
    app.router.add_get("/v1/events", get_events)
    app.router.add_post("/v1/events/{id}/replay", replay_event)
