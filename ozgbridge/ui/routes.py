"""Dashboard handlers: sign-in, the report page, downloads, sign-out.

Every POST must come from our own pages: the session cookie is ``SameSite=Strict``, sign-out needs
the session's CSRF token, and a POST whose ``Origin`` names another host is refused (that also
stops login CSRF, where a foreign page would sign a victim in under the attacker's key).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import escape
from urllib.parse import urlencode, urlsplit

import structlog
from aiohttp import web

from ozgbridge.api.auth import API_KEY
from ozgbridge.api.reports import (
    FORMATS,
    ScopeError,
    make_report,
    render,
    requested_tenants,
)
from ozgbridge.api.state import DEPLOYMENT, SETTINGS
from ozgbridge.reporting import Period, parse_period
from ozgbridge.reporting.build import UnknownTenantError
from ozgbridge.reporting.model import DEFAULT_VIEW, VIEWS
from ozgbridge.reporting.render_html import period_text, report_sections
from ozgbridge.tenants import ApiKey, Role, token_sha256
from ozgbridge.ui.pages import SECURITY_HEADERS, fill, message_page, page
from ozgbridge.ui.sessions import COOKIE, Session, SessionSigner

SIGNER = web.AppKey("ui_signer", SessionSigner)
ROLE_NAMES = {Role.COORDINATOR: "Koordination", Role.OPERATOR: "Betrieb", Role.TENANT: "Mandant"}
LOGIN = "/ui/login"
_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")
HOME = "/ui/"

log = structlog.get_logger("ozgbridge.ui")


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


def _see_other(location: str) -> web.Response:
    # Returned, not raised: the access log then records the 303 like any other answer.
    return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": location})


def _session(request: web.Request) -> Session | None:
    session = request.app[SIGNER].verify(request.cookies.get(COOKIE), request.app[DEPLOYMENT])
    if session is not None:
        request[API_KEY] = session.key  # the access log names the key
    return session


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    # Browsers send Origin with every POST; tools without one are not a CSRF vector.
    return origin is None or urlsplit(origin).netloc == request.host


def _account(request: web.Request, session: Session) -> str:
    key = session.key
    role = ROLE_NAMES.get(key.role, str(key.role))
    if key.tenant:
        role += f" {key.tenant}"
    csrf = request.app[SIGNER].csrf_token(session)
    return fill("account.html", key_id=key.id, role=role, csrf=csrf, nav_html=_nav(request, key))


SECTIONS = (("/ui/", "Bericht"), ("/ui/deliveries", "Zustellungen"), ("/ui/routes", "Routen"))


def _nav(request: web.Request, key: ApiKey) -> str:
    """Links to the dashboard's sections; coordinators have only the report."""
    if key.role not in (Role.OPERATOR, Role.TENANT):
        return ""
    links = []
    for path, label in SECTIONS:
        here = request.path == path or (path != HOME and request.path.startswith(path))
        current = ' aria-current="page"' if here else ""
        links.append(f'<a href="{path}"{current}>{escape(label)}</a>')
    return '<nav class="sections" aria-label="Bereiche">' + "".join(links) + "</nav>"


async def login_form(request: web.Request) -> web.StreamResponse:
    if _session(request) is not None:
        return _see_other(HOME)
    return _html(page("Anmelden", fill("login.html", error_html="")))


def _login_failed(message: str, status: int) -> web.Response:
    error = f'<p class="error" role="alert">{escape(message)}</p>'
    return _html(page("Anmelden", fill("login.html", error_html=error)), status)


async def login(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        return _html(message_page("Abgelehnt", "Anmeldung nur über diese Seite."), 403)
    form = await request.post()
    token = str(form.get("token", "")).strip()
    # As in the API: tokens are visible ASCII; anything else cannot match (nor always encode).
    valid = _TOKEN.fullmatch(token) is not None
    key = request.app[DEPLOYMENT].key_by_hash(token_sha256(token)) if valid else None
    if key is None:
        log.info("ui.sign_in_failed")
        return _login_failed("Unbekannter API-Schlüssel.", 401)
    if key.role not in ROLE_NAMES:
        log.info("ui.sign_in_refused", key_id=key.id, role=str(key.role))
        return _login_failed("Dieser Schlüssel darf keine Berichte sehen.", 403)
    request[API_KEY] = key
    if key.demo:
        log.warning("auth.demo_key_used", key_id=key.id, role=str(key.role), where="ui")
    signer = request.app[SIGNER]
    response = _see_other(HOME)
    response.set_cookie(
        COOKIE,
        signer.issue(key),
        max_age=signer.lifetime,
        path="/ui",
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].ui_cookie_secure,
    )
    log.info("ui.signed_in", key_id=key.id, role=str(key.role))
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return _see_other(LOGIN)
    form = await request.post()
    if not _same_origin(request) or not request.app[SIGNER].csrf_ok(
        session, str(form.get("csrf", ""))
    ):
        return _html(message_page("Abgelehnt", "Abmelden nur über das Dashboard."), 403)
    response = _see_other(LOGIN)
    response.del_cookie(COOKIE, path="/ui")
    log.info("ui.signed_out", key_id=session.key.id)
    return response


def _period_and_error(request: web.Request) -> tuple[Period, str]:
    try:
        return parse_period(request.query.get("from"), request.query.get("to")), ""
    except ValueError as exc:
        return parse_period(None, None), f"Zeitraum ungültig ({exc}); gezeigt wird der Vormonat."


def _presets(key_query: dict[str, str]) -> str:
    today = datetime.now(UTC).date()
    last_month = parse_period(None, None, today=today)
    months_back = last_month.first.year * 12 + last_month.first.month - 1 - 11
    year_ago = date(months_back // 12, months_back % 12 + 1, 1)
    choices = [
        ("Letzter Monat", last_month.first, last_month.last),
        ("Letzte 12 Monate", year_ago, last_month.last),
        ("Dieses Jahr", date(today.year, 1, 1), today),
    ]
    links = []
    for label, first, last in choices:
        query = urlencode({**key_query, "from": first.isoformat(), "to": last.isoformat()})
        links.append(f'<a href="{HOME}?{escape(query)}">{escape(label)}</a>')
    return " · ".join(links)


def _tenant_filter(request: web.Request, key: ApiKey, chosen: list[str]) -> str:
    tenants = request.app[DEPLOYMENT].tenants
    if key.tenant is not None:  # a tenant key has exactly one choice: its own tenant
        name = tenants[key.tenant].name if key.tenant in tenants else key.tenant
        return f'<p class="tenant-fixed">Mandant: <strong>{escape(name)}</strong></p>'
    boxes = []
    for tenant_id, tenant in tenants.items():
        checked = " checked" if tenant_id in chosen else ""
        boxes.append(
            f'<label><input type="checkbox" name="tenant" value="{escape(tenant_id)}"{checked}> '
            f"{escape(tenant.name)}</label>"
        )
    return (
        '<fieldset class="tenants"><legend>Mandanten (keine Auswahl: alle)</legend>'
        f"{''.join(boxes)}</fieldset>"
    )


async def dashboard(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return _see_other(LOGIN)
    key, account = session.key, _account(request, session)
    period, error = _period_and_error(request)
    requested = requested_tenants(request.query.getall("tenant", []))
    try:
        report = await make_report(request, key, period, requested)
    except ScopeError as exc:
        return _html(message_page("Nicht erlaubt", str(exc), account), 403)
    except UnknownTenantError as exc:
        return _html(message_page("Unbekannter Mandant", str(exc), account), 404)
    query = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    if requested:
        query["tenant"] = ",".join(requested)
    content = fill(
        "dashboard.html",
        first=period.first.isoformat(),
        last=period.last.isoformat(),
        tenant_filter_html=_tenant_filter(request, key, requested),
        presets_html=_presets({"tenant": query["tenant"]} if requested else {}),
        error_html=f'<p class="error" role="alert">{escape(error)}</p>' if error else "",
        period_text=period_text(report),
        tenant_names=", ".join(name for _, name in report.tenants),
        xlsx_url=f"/ui/download?{urlencode({**query, 'format': 'xlsx'})}",
        csv_url=f"/ui/download?{urlencode({**query, 'format': 'csv', 'view': DEFAULT_VIEW})}",
        sections_html=report_sections(report),
    )
    return _html(page("Bericht", content, account))


async def download(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return _see_other(LOGIN)
    period, error = _period_and_error(request)
    fmt = request.query.get("format", "xlsx")
    view = request.query.get("view", DEFAULT_VIEW)
    if error or fmt not in FORMATS or view not in VIEWS:
        return _html(
            message_page("Ungültige Anfrage", error or "Format oder Ansicht unbekannt."), 422
        )
    requested = requested_tenants(request.query.getall("tenant", []))
    try:
        report = await make_report(request, session.key, period, requested)
    except ScopeError as exc:
        return _html(message_page("Nicht erlaubt", str(exc)), 403)
    except UnknownTenantError as exc:
        return _html(message_page("Unbekannter Mandant", str(exc)), 404)
    body, name = await render(report, fmt, view)
    return web.Response(
        body=body,
        content_type=FORMATS[fmt].split(";")[0],
        charset=None if fmt == "xlsx" else "utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


async def to_home(request: web.Request) -> web.StreamResponse:
    return _see_other(HOME)


def setup_ui(app: web.Application) -> None:
    app[SIGNER] = SessionSigner.from_settings(app[SETTINGS])
    app.router.add_get("/ui", to_home)
    app.router.add_get("/ui/", dashboard)
    app.router.add_get(LOGIN, login_form)
    app.router.add_post(LOGIN, login)
    app.router.add_post("/ui/logout", logout)
    app.router.add_get("/ui/download", download)
    # Imported here: those pages build on this module's session helpers.
    from ozgbridge.ui.ops_deliveries import setup_delivery_pages  # noqa: PLC0415
    from ozgbridge.ui.ops_routes import setup_route_pages  # noqa: PLC0415

    setup_delivery_pages(app)
    setup_route_pages(app)
