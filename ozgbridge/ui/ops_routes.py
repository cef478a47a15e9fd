"""``/ui/routes``: every route the key may see, with its state and figures, and the pause /
resume / test buttons. A test answers with the page and its result at once."""

from __future__ import annotations

from html import escape

from aiohttp import web

from ozgbridge.api.state import OPERATIONS
from ozgbridge.domain import RouteState
from ozgbridge.operations import RouteRow, UnknownRoute
from ozgbridge.ops.admission import RouteKey
from ozgbridge.store.routes import CheckResult
from ozgbridge.ui.ops_common import (
    ROUTE_STATES,
    Denied,
    actor_of,
    back_to,
    button_form,
    checked_form,
    csrf_input,
    notice_html,
    operating,
    own_tenants,
    refused,
    respond,
    state_html,
    when,
)
from ozgbridge.ui.sessions import Session

LIST = "/ui/routes"
DONE = {"paused": "Die Route ist pausiert.", "resumed": "Die Route ist wieder aktiv."}


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h".replace(".", ",")


def _row(r: RouteRow, csrf: str) -> str:
    base = f"{LIST}/{r.tenant_id}/{r.route_id}"
    toggle = (
        button_form(f"{base}/resume", "Fortsetzen", csrf)
        if r.state is RouteState.PAUSED
        else button_form(f"{base}/pause", "Pausieren", csrf, secondary=True)
    )
    test = button_form(f"{base}/test", "Testen", csrf, secondary=True)
    state = state_html(str(r.state), ROUTE_STATES[r.state])
    if r.open_until is not None:
        state += f"<br><small>nächste Probe ab {when(r.open_until)}</small>"
    name = f"{r.tenant_id}/{r.route_id}"
    return (
        f'<tr id="r-{escape(r.tenant_id)}-{escape(r.route_id)}"><td>{escape(name)}</td>'
        f"<td>{escape(r.connector)}</td><td>{state}</td>"
        f'<td class="num">{r.pending}</td><td class="num">{r.delivering}</td>'
        f'<td class="num"><a href="/ui/deliveries?state=dead&amp;tenant={escape(r.tenant_id)}'
        f'&amp;route={escape(r.route_id)}">{r.dead}</a></td>'
        f"<td>{_seconds(r.oldest_pending_seconds)}</td><td>{when(r.last_success_at)}</td>"
        f'<td>{when(r.last_failure_at)}</td><td class="num">{r.consecutive_failures}</td>'
        f"<td>{toggle}{test}</td></tr>"
    )


async def _page(
    request: web.Request, session: Session, account: str, notice: str = ""
) -> web.Response:
    operations = request.app[OPERATIONS]
    scope = own_tenants(session.key)
    chosen = request.query.get("tenant") or ""
    if scope is None and chosen in operations.deployment.tenants:
        scope = [chosen]
    rows = await operations.route_rows(scope)
    csrf = csrf_input(request, session)
    content = (
        "<h2>Routen</h2>"
        + (_tenant_filter(request, chosen) if session.key.tenant is None else "")
        + "<p>Eine pausierte Route nimmt Anträge weiter an und speichert sie, stellt aber "
        "nichts zu; Warten verbraucht keine Wiederholungsstufe. Ein offener Schutzschalter "
        "lässt nach der Abkühlzeit eine Probezustellung durch.</p>"
        f"{notice}"
        '<table id="routes"><thead><tr><th>Route</th><th>Anschluss</th><th>Zustand</th>'
        "<th>Wartend</th><th>In Zustellung</th><th>Gescheitert</th><th>Ältester wartend</th>"
        "<th>Letzter Erfolg (UTC)</th><th>Letzter Fehler (UTC)</th><th>Fehler in Folge</th>"
        f"<th>Aktionen</th></tr></thead><tbody>{''.join(_row(r, csrf) for r in rows)}"
        "</tbody></table>"
    )
    return respond("Routen", content, account)


def _tenant_filter(request: web.Request, chosen: str) -> str:
    tenants = request.app[OPERATIONS].deployment.tenants.values()
    options = "".join(
        f'<option value="{escape(t.id)}"{" selected" if t.id == chosen else ""}>'
        f"{escape(t.name)}</option>"
        for t in tenants
    )
    return (
        f'<form class="filters" method="get" action="{LIST}" aria-label="Filter">'
        f'<label>Mandant<select name="tenant"><option value="">alle</option>{options}</select>'
        '</label><button type="submit">Anzeigen</button></form>'
    )


async def routes_page(request: web.Request) -> web.StreamResponse:
    try:
        session, account = operating(request)
    except Denied as denied:
        return denied.response
    done = DONE.get(request.query.get("done", ""), "")
    return await _page(request, session, account, notice_html(done) if done else "")


def _key(request: web.Request, session: Session) -> RouteKey | None:
    key = (request.match_info["tenant"], request.match_info["route"])
    scope = own_tenants(session.key)
    try:
        request.app[OPERATIONS].route(key)
    except UnknownRoute:
        return None
    return key if scope is None or key[0] in scope else None


async def route_action(request: web.Request) -> web.StreamResponse:
    try:
        session, _form = await checked_form(request)
    except Denied as denied:
        return denied.response
    key = _key(request, session)
    if key is None:
        return refused("Nicht gefunden", "Keine solche Route für diesen Schlüssel.", "", 404)
    operations = request.app[OPERATIONS]
    action = request.match_info["action"]
    actor = actor_of(session.key)
    if action == "pause":
        await operations.pause(key, actor=actor)
        return back_to(f"{LIST}?done=paused")
    if action == "resume":
        await operations.resume(key, actor=actor)
        return back_to(f"{LIST}?done=resumed")
    result = await operations.test_route(key, actor=actor)
    _session, account = operating(request)
    return await _page(request, session, account, _test_notice(key, result))


def _test_notice(key: RouteKey, result: CheckResult) -> str:
    name = f"{key[0]}/{key[1]}"
    status = f"HTTP {result.status_code}, " if result.status_code else ""
    if result.ok:
        return notice_html(f"Test {name}: erfolgreich ({status}{result.duration_ms} ms).")
    text = f"Test {name}: fehlgeschlagen ({status}{result.error}; {result.duration_ms} ms)."
    return notice_html(text, failed=True)


def setup_route_pages(app: web.Application) -> None:
    app.router.add_get(LIST, routes_page)
    app.router.add_post(LIST + "/{tenant}/{route}/{action:pause|resume|test}", route_action)
