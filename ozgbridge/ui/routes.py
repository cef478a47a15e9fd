"""Dashboard handlers: sign-in, the report page, downloads, sign-out.

Every POST must come from our own pages: the session cookie is ``SameSite=Strict``, sign-out needs
the session's CSRF token, and a POST whose ``Origin`` names another host is refused (that also
stops login CSRF, where a foreign page would sign a victim in under the attacker's key).
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from ozgbridge.api.auth import API_KEY
from ozgbridge.api.reports import FORMATS, ScopeError, make_report, render, requested_tenants
from ozgbridge.api.state import SETTINGS, current_deployment
from ozgbridge.reporting.build import UnknownTenantError
from ozgbridge.reporting.model import DEFAULT_VIEW, VIEWS
from ozgbridge.tenants import Role, token_sha256
from ozgbridge.ui import report_page
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
    session = request.app[SIGNER].verify(request.cookies.get(COOKIE), current_deployment(request))
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
    return fill("account.html", key_id=key.id, role=role, csrf=csrf)


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
    key = current_deployment(request).key_by_hash(token_sha256(token)) if valid else None
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


async def dashboard(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return _see_other(LOGIN)
    account = _account(request, session)
    try:
        content = await report_page.dashboard_content(request, session.key)
    except ScopeError as exc:
        return _html(message_page("Nicht erlaubt", str(exc), account), 403)
    except UnknownTenantError as exc:
        return _html(message_page("Unbekannter Mandant", str(exc), account), 404)
    return _html(page("Bericht", content, account))


async def print_view(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return _see_other(LOGIN)
    account = _account(request, session)
    try:
        content = await report_page.print_content(request, session.key)
    except ScopeError as exc:
        return _html(message_page("Nicht erlaubt", str(exc), account), 403)
    except UnknownTenantError as exc:
        return _html(message_page("Unbekannter Mandant", str(exc), account), 404)
    return _html(page("Bericht zum Weitergeben", content, account))


async def download(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return _see_other(LOGIN)
    period, error = report_page.period_and_error(request)
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
    app.router.add_get(report_page.PRINT, print_view)
