"""Dashboard handlers: sign-in, the report page, downloads, sign-out.

Every POST must come from our own pages: the session cookie is ``SameSite=Strict``, sign-out needs
the session's CSRF token, and a POST whose ``Origin`` names another host is refused (that also
stops login CSRF, where a foreign page would sign a victim in under the attacker's key).

`ui_middleware` reads the session of every ``/ui`` request once — signature, key, expiry, then the
revocation table — and reads posted forms before any handler does, so a form the client broke
(an unknown charset, a multipart body without boundary) is a 400, not an error in a handler.
Sign-in is throttled and audited (see `ozgbridge.ui.signin`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from ozgbridge import audit
from ozgbridge.api.auth import API_KEY
from ozgbridge.api.key_usage import KEY_USAGE
from ozgbridge.api.problems import (
    DATABASE_RETRY_AFTER,
    Handler,
    client_gone,
    database_unavailable,
)
from ozgbridge.api.reports import FORMATS, ScopeError, make_report, render, requested_tenants
from ozgbridge.api.state import REPOSITORY, SETTINGS, current_deployment
from ozgbridge.reporting.build import UnknownTenantError
from ozgbridge.reporting.model import DEFAULT_VIEW, VIEWS
from ozgbridge.store import sessions as session_store
from ozgbridge.store.engine import unavailable
from ozgbridge.tenants import ApiKey, Role
from ozgbridge.ui import report_page, signin
from ozgbridge.ui.pages import SECURITY_HEADERS, fill, message_page, page
from ozgbridge.ui.sessions import COOKIE, Session, SessionSigner

SIGNER = web.AppKey("ui_signer", SessionSigner)
SESSION = web.RequestKey("ui_session", Session)
ROLE_NAMES = signin.ROLE_NAMES
LOGIN = "/ui/login"
HOME = "/ui/"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

log = structlog.get_logger("ozgbridge.ui")


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


def _see_other(location: str) -> web.Response:
    # Returned, not raised: the access log then records the 303 like any other answer.
    return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": location})


def _session(request: web.Request) -> Session | None:
    """The request's session, as `ui_middleware` found it."""
    return request.get(SESSION)


async def _read_session(request: web.Request) -> Session | None:
    cookies = [value for name, value in _cookie_pairs(request) if name == COOKIE]
    if len(cookies) != 1:
        return None  # none, or several (a cookie tossed in from elsewhere): no session
    session = request.app[SIGNER].verify(cookies[0], current_deployment(request))
    if session is None:
        return None
    if await session_store.is_revoked(request.app[REPOSITORY].engine, session.id):
        return None
    request[API_KEY] = session.key  # the access log names the key
    request.app[KEY_USAGE].touch(session.key.id)
    return session


def _cookie_pairs(request: web.Request) -> list[tuple[str, str]]:
    # request.cookies keeps one value per name; to see a duplicate, read the header itself.
    pairs = []
    for header in request.headers.getall("Cookie", ()):
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            pairs.append((name.strip(), value.strip()))
    return pairs


@web.middleware
async def ui_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != "/ui" and not request.path.startswith("/ui/"):
        return await handler(request)
    try:
        return await _ui_request(request, handler)
    except Exception as exc:
        if not unavailable(exc) or client_gone(request):
            raise  # problem_middleware answers (or, for a client gone, records 499)
        # A page for a person, not a problem document: the session (in the database) and the
        # page's data both need it, so every dashboard request can end here.
        problem = database_unavailable(request, exc)
        response = _html(
            message_page(
                "Datenbank nicht erreichbar",
                "Die Datenbank antwortet gerade nicht. Bitte laden Sie die Seite in "
                f"{DATABASE_RETRY_AFTER} Sekunden neu.",
            ),
            problem.status,
        )
        response.headers.update(problem.headers)
        return response


async def _ui_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = await _read_session(request)
    if session is not None:
        request[SESSION] = session
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        try:
            await request.post()  # aiohttp keeps the result for the handler's own call
        except (ValueError, LookupError):
            return _html(message_page("Ungültige Anfrage", "Das Formular ist fehlerhaft."), 400)
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    # Browsers send Origin with every POST; tools without one are not a CSRF vector. The header
    # is well-formed here (see ozgbridge.api.sanity).
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


async def login(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        return _html(message_page("Abgelehnt", "Anmeldung nur über diese Seite."), 403)
    form = await request.post()
    outcome = await signin.attempt(request, str(form.get("token", "")).strip())
    if outcome.key is None:
        error = f'<p class="error" role="alert">{escape(outcome.message)}</p>'
        response = _html(page("Anmelden", fill("login.html", error_html=error)), outcome.status)
        response.headers.update(outcome.headers)
        return response
    signer = request.app[SIGNER]
    response = _see_other(HOME)
    response.set_cookie(
        COOKIE,
        signer.issue(outcome.key),
        max_age=signer.lifetime,
        path="/ui",
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].ui_cookie_secure,
    )
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
    # Revoked in the database, so the cookie (and any copy of it) is refused by every process.
    await session_store.revoke(
        request.app[REPOSITORY].engine,
        session.id,
        datetime.fromtimestamp(session.expires, UTC),
        now=datetime.now(UTC),
        event=audit.AuditEvent(
            f"key:{session.key.id}", "ui.signed_out", details={"session": session.id}
        ),
    )
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
    app.middlewares.append(ui_middleware)
    app.router.add_get("/ui", to_home)
    app.router.add_get("/ui/", dashboard)
    app.router.add_get(LOGIN, login_form)
    app.router.add_post(LOGIN, login)
    app.router.add_post("/ui/logout", logout)
    app.router.add_get("/ui/download", download)
    app.router.add_get(report_page.PRINT, print_view)
    # Imported here: those pages build on this module's session helpers.
    from ozgbridge.ui.ops_deliveries import setup_delivery_pages  # noqa: PLC0415
    from ozgbridge.ui.ops_routes import setup_route_pages  # noqa: PLC0415

    setup_delivery_pages(app)
    setup_route_pages(app)
