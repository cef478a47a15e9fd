"""``/ui/deliveries``: the deliveries list with filters, one delivery with its attempts, and the
replay / cancel / bulk-replay buttons — the same operations as the API, for people."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from aiohttp import web

from ozgbridge.api.state import OPERATIONS, current_deployment
from ozgbridge.apikey_models import Role
from ozgbridge.domain import DeliveryState, is_leika_key
from ozgbridge.ids import is_id
from ozgbridge.ops.when import parse_when
from ozgbridge.store.delivery_views import DeliveryFilter, DeliveryItem
from ozgbridge.ui.ops_common import (
    DELIVERY_STATES,
    Denied,
    button_form,
    csrf_input,
    notice_html,
    operating,
    own_tenants,
    refused,
    respond,
    state_html,
    when,
)

PAGE = 50
LIST = "/ui/deliveries"
DONE = {
    "replayed": "Die Zustellung wird jetzt erneut versucht (gleiche Zustellungs-ID).",
    "cancelled": "Die Zustellung ist abgebrochen.",
}


def _filters(request: web.Request, tenants: list[str] | None) -> tuple[DeliveryFilter, str]:
    """The list's filter from the query string, and a text naming what was ignored."""
    query = request.query
    problems = []
    state = query.get("state") or None
    if state is not None and state not in DELIVERY_STATES:
        problems.append("Status")
        state = None
    tenant = query.get("tenant") or None
    if tenants is not None and tenant not in (None, *tenants):
        raise web.HTTPForbidden
    service = query.get("service") or None
    if service is not None and not is_leika_key(service):
        problems.append("Leistung")
        service = None
    try:
        since = parse_when(query.get("since") or None)
    except ValueError:
        problems.append("Seit")
        since = None
    where = DeliveryFilter(
        state=DeliveryState(state) if state else None,
        tenants=tenants if tenants is not None else ([tenant] if tenant else None),
        route=query.get("route") or None,
        service=service,
        since=since,
    )
    ignored = f"Nicht verstanden und daher ignoriert: {', '.join(problems)}." if problems else ""
    return where, ignored


def _select(name: str, label: str, options: list[tuple[str, str]], chosen: str | None) -> str:
    items = "".join(
        f'<option value="{escape(v)}"{" selected" if v == (chosen or "") else ""}>{escape(t)}'
        "</option>"
        for v, t in options
    )
    return f'<label>{escape(label)}<select name="{name}">{items}</select></label>'


def _filter_form(request: web.Request, is_operator: bool) -> str:
    q = request.query
    states = [("", "alle"), *((str(s), t) for s, t in DELIVERY_STATES.items())]
    parts = [_select("state", "Status", states, q.get("state"))]
    if is_operator:
        tenants = [
            ("", "alle"),
            *((t.id, t.name) for t in current_deployment(request).tenants.values()),
        ]
        parts.append(_select("tenant", "Mandant", tenants, q.get("tenant")))
    for name, label, hint in (
        ("route", "Route", "z. B. gewerbe"),
        ("service", "Leistung (LeiKa)", "99…"),
        ("since", "Seit", "2026-11-24 oder 6h"),
    ):
        parts.append(
            f'<label>{label}<input type="text" name="{name}" value="{escape(q.get(name, ""))}" '
            f'placeholder="{escape(hint)}"></label>'
        )
    return (
        f'<form class="filters" method="get" action="{LIST}" aria-label="Filter">'
        f'{"".join(parts)}<button type="submit">Anzeigen</button></form>'
    )


def _actions(item: DeliveryItem, csrf: str, back: str) -> str:
    base = f"{LIST}/{item.id}"
    back_field = f'<input type="hidden" name="back" value="{escape(back)}">'
    forms = []
    if item.state in (DeliveryState.DEAD, DeliveryState.CANCELLED):
        forms.append(
            button_form(f"{base}/replay", "Erneut zustellen", csrf, fields_html=back_field)
        )
    if item.state in (DeliveryState.PENDING, DeliveryState.DELIVERING, DeliveryState.DEAD):
        reason = (
            '<input type="text" name="reason" required maxlength="500" '
            f'aria-label="Grund für den Abbruch von {escape(item.id)}" placeholder="Grund">'
        )
        forms.append(
            button_form(
                f"{base}/cancel", "Abbrechen", csrf, fields_html=reason + back_field, secondary=True
            )
        )
    return "".join(forms)


def _rows(items: list[DeliveryItem], csrf: str, back: str) -> str:
    rows = []
    for i in items:
        rows.append(
            f'<tr id="d-{escape(i.id)}"><td><a href="{LIST}/{escape(i.id)}">{escape(i.id)}</a></td>'
            f"<td>{when(i.created_at)}</td><td>{escape(i.tenant_id)}/{escape(i.route_id)}</td>"
            f"<td>{escape(i.service)}</td>"
            f"<td>{state_html(str(i.state), DELIVERY_STATES[i.state])}</td>"
            f'<td class="num">{i.attempts}</td><td>{when(i.next_attempt_at)}</td>'
            f"<td>{escape(i.last_error or '')}</td><td>{_actions(i, csrf, back)}</td></tr>"
        )
    return "".join(rows)


async def deliveries_page(request: web.Request) -> web.StreamResponse:
    try:
        session, account = operating(request)
    except Denied as denied:
        return denied.response
    key = session.key
    try:
        where, ignored = _filters(request, own_tenants(key))
    except web.HTTPForbidden:
        return refused(
            "Nicht erlaubt", f"Ein Mandanten-Schlüssel sieht nur {key.tenant}.", account, 403
        )
    cursor = request.query.get("cursor")
    below = cursor if cursor and is_id(cursor) else None
    items, boundary = await request.app[OPERATIONS].views.page(where, limit=PAGE, below=below)
    csrf = csrf_input(request, session)
    back = request.path_qs
    notice = DONE.get(request.query.get("done", ""), "")
    bulk = request.query.get("replayed")
    if bulk is not None and bulk.isdigit():
        notice = f"{bulk} gescheiterte Zustellungen werden erneut versucht."
    parts = [
        "<h2>Zustellungen</h2>",
        _filter_form(request, key.role is Role.OPERATOR),
        notice_html(notice) if notice else "",
        notice_html(ignored, failed=True) if ignored else "",
    ]
    if where.state is DeliveryState.DEAD:
        fields = "".join(
            f'<input type="hidden" name="{n}" value="{escape(v)}">'
            for n, v in (
                ("tenant", request.query.get("tenant", "")),
                ("route", request.query.get("route", "")),
            )
            if v
        )
        parts.append(
            button_form(
                f"{LIST}/replay",
                "Alle gescheiterten (Filter) erneut zustellen",
                csrf,
                fields_html=fields,
            )
        )
    if items:
        parts.append(
            '<table id="deliveries"><thead><tr><th>ID</th><th>Eingang (UTC)</th><th>Route</th>'
            "<th>Leistung</th><th>Status</th><th>Versuche</th><th>Nächster Versuch</th>"
            "<th>Letzter Fehler</th><th>Aktionen</th></tr></thead>"
            f"<tbody>{_rows(items, csrf, back)}</tbody></table>"
        )
    else:
        parts.append('<p id="no-deliveries">Keine Zustellungen für diesen Filter.</p>')
    if boundary is not None:
        query = {k: v for k, v in request.query.items() if k not in ("cursor", "done")}
        parts.append(
            f'<p><a class="button" id="older" href="{LIST}?'
            f'{escape(urlencode({**query, "cursor": boundary}))}">Ältere</a></p>'
        )
    return respond("Zustellungen", "".join(parts), account)


async def delivery_page(request: web.Request) -> web.StreamResponse:
    try:
        session, account = operating(request)
    except Denied as denied:
        return denied.response
    delivery_id = request.match_info["id"]
    item = await request.app[OPERATIONS].views.get(delivery_id) if is_id(delivery_id) else None
    scope = own_tenants(session.key)
    if item is None or (scope is not None and item.tenant_id not in scope):
        return refused(
            "Nicht gefunden", "Keine solche Zustellung für diesen Schlüssel.", account, 404
        )
    attempts = await request.app[OPERATIONS].views.attempts(item.id)
    facts = [
        ("Zustellungs-ID", item.id),
        ("Antrag", item.application_id),
        ("Route", f"{item.tenant_id}/{item.route_id} ({item.connector})"),
        ("Leistung", item.service),
        ("Eingang (UTC)", when(item.created_at)),
        ("Versuche", str(item.attempts)),
        ("Stufe der Wiederholungsleiter", str(item.rung)),
        ("Nächster Versuch", when(item.next_attempt_at)),
        ("Letzter Fehler", item.last_error or "–"),
        ("Zugestellt", when(item.delivered_at)),
        ("Referenz", item.remote_reference or "–"),
        ("Abbruchgrund", item.cancel_reason or "–"),
    ]
    rows = "".join(
        f'<tr><td class="num">{a.number}</td><td>{when(a.started_at)}</td>'
        f'<td class="num">{a.duration_ms} ms</td><td>{escape(a.outcome)}</td>'
        f"<td>{a.status_code or ''}</td><td>{escape(a.error or '')}</td></tr>"
        for a in attempts
    )
    content = (
        f"<h2>Zustellung {escape(item.id)}</h2>"
        f"<p>Status: {state_html(str(item.state), DELIVERY_STATES[item.state])}</p>"
        '<dl class="facts">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
        + "</dl>"
        + _actions(item, csrf_input(request, session), request.path)
        + '<table id="attempts"><caption>Versuche</caption><thead><tr><th>Nr.</th>'
        "<th>Beginn (UTC)</th><th>Dauer</th><th>Ergebnis</th><th>HTTP</th><th>Fehler</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
        f'<p><a href="{LIST}">Alle Zustellungen</a></p>'
    )
    return respond(f"Zustellung {item.id}", content, account)


def setup_delivery_pages(app: web.Application) -> None:
    from ozgbridge.ui.ops_delivery_actions import (  # noqa: PLC0415 (it imports LIST from here)
        bulk_replay_action,
        cancel_action,
        replay_action,
    )

    app.router.add_get(LIST, deliveries_page)
    app.router.add_post(f"{LIST}/replay", bulk_replay_action)
    app.router.add_get(LIST + "/{id}", delivery_page)
    app.router.add_post(LIST + "/{id}/replay", replay_action)
    app.router.add_post(LIST + "/{id}/cancel", cancel_action)
