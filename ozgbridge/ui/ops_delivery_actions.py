"""The deliveries pages' buttons: replay, cancel, replay every dead one matching the filter.

Each is a CSRF-checked POST that does what the API does, then sends the browser back to the page
it came from (only ever one of our own) with a notice.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from ozgbridge.api.state import OPERATIONS
from ozgbridge.apikey_models import Role
from ozgbridge.domain import DeliveryState
from ozgbridge.errors import ActionRefused
from ozgbridge.ids import is_id
from ozgbridge.store.delivery_actions import DeliveryNotFound
from ozgbridge.store.delivery_views import DeliveryFilter
from ozgbridge.ui.ops_common import Denied, actor_of, back_to, checked_form, own_tenants, refused
from ozgbridge.ui.ops_deliveries import LIST


def _back(form: dict[str, str], fallback: str) -> str:
    target = form.get("back", "")
    # Only our own pages: an open redirect would let a link send people anywhere.
    return target if target.startswith(LIST) and "//" not in target else fallback


async def replay_action(request: web.Request) -> web.StreamResponse:
    try:
        session, form = await checked_form(request)
    except Denied as denied:
        return denied.response
    delivery_id = request.match_info["id"]
    try:
        if not is_id(delivery_id):
            raise DeliveryNotFound(delivery_id)
        await request.app[OPERATIONS].replay(
            delivery_id, actor=actor_of(session.key), tenants=own_tenants(session.key)
        )
    except DeliveryNotFound:
        return refused("Nicht gefunden", "Keine solche Zustellung für diesen Schlüssel.", "", 404)
    except ActionRefused as refusal:
        return refused("Nicht möglich", str(refusal), "", 409)
    return back_to(_with_done(_back(form, f"{LIST}/{delivery_id}"), "replayed"))


async def cancel_action(request: web.Request) -> web.StreamResponse:
    try:
        session, form = await checked_form(request)
    except Denied as denied:
        return denied.response
    delivery_id = request.match_info["id"]
    reason = form.get("reason", "").strip()
    if not reason or len(reason) > 500 or any(ord(c) < 32 for c in reason):
        return refused("Grund fehlt", "Bitte einen Grund (bis 500 Zeichen) angeben.", "", 422)
    try:
        if not is_id(delivery_id):
            raise DeliveryNotFound(delivery_id)
        await request.app[OPERATIONS].cancel(
            delivery_id,
            actor=actor_of(session.key),
            reason=reason,
            tenants=own_tenants(session.key),
        )
    except DeliveryNotFound:
        return refused("Nicht gefunden", "Keine solche Zustellung für diesen Schlüssel.", "", 404)
    except ActionRefused as refusal:
        return refused("Nicht möglich", str(refusal), "", 409)
    return back_to(_with_done(_back(form, f"{LIST}/{delivery_id}"), "cancelled"))


async def bulk_replay_action(request: web.Request) -> web.StreamResponse:
    try:
        session, form = await checked_form(request)
    except Denied as denied:
        return denied.response
    key = session.key
    tenant = form.get("tenant") or None
    if key.role is not Role.OPERATOR and tenant not in (None, key.tenant):
        return refused("Nicht erlaubt", f"Ein Mandanten-Schlüssel sieht nur {key.tenant}.", "", 403)
    where = DeliveryFilter(
        state=DeliveryState.DEAD,
        tenants=own_tenants(key) or ([tenant] if tenant else None),
        route=form.get("route") or None,
    )
    result = await request.app[OPERATIONS].bulk_replay(where, actor=actor_of(key))
    query = {k: v for k, v in (("tenant", tenant or ""), ("route", where.route or "")) if v}
    return back_to(f"{LIST}?{urlencode({**query, 'replayed': result.replayed})}")


def _with_done(location: str, done: str) -> str:
    path, _, query = location.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query) if k not in ("done", "replayed")]
    return f"{path}?{urlencode([*kept, ('done', done)])}"
