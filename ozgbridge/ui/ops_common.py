"""What the deliveries and routes pages share: who may see them, CSRF-checked forms, labels.

Operators and tenant keys see them (a tenant key only its own tenant's deliveries and routes);
coordinators do not. Every change is a POST form carrying the session's CSRF token, checked
together with the Origin header, exactly like sign-out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from aiohttp import web

from ozgbridge.domain import DeliveryState, RouteState
from ozgbridge.errors import OzgbridgeError
from ozgbridge.tenants import ApiKey, Role
from ozgbridge.ui.pages import message_page, page
from ozgbridge.ui.routes import (
    LOGIN,
    SIGNER,
    _account,
    _html,
    _same_origin,
    _see_other,
    _session,
)
from ozgbridge.ui.sessions import Session

DELIVERY_STATES = {
    DeliveryState.PENDING: "wartet",
    DeliveryState.DELIVERING: "wird zugestellt",
    DeliveryState.DELIVERED: "zugestellt",
    DeliveryState.DEAD: "gescheitert",
    DeliveryState.CANCELLED: "abgebrochen",
}
ROUTE_STATES = {
    RouteState.ACTIVE: "aktiv",
    RouteState.PAUSED: "pausiert",
    RouteState.OPEN: "gesperrt (Schutzschalter offen)",
    RouteState.HALF_OPEN: "Probezustellung läuft",
}


class Denied(OzgbridgeError):
    """Answer this response instead (sign-in redirect, refusal page)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__("denied")
        self.response = response


def operating(request: web.Request) -> tuple[Session, str]:
    """The session and account fragment of an operator or tenant key; `Denied` otherwise."""
    session = _session(request)
    if session is None:
        raise Denied(_see_other(LOGIN))
    account = _account(request, session)
    if session.key.role not in (Role.OPERATOR, Role.TENANT):
        text = "Zustellungen und Routen sehen nur Betrieb und Mandanten."
        raise Denied(_html(message_page("Nicht erlaubt", text, account), 403))
    return session, account


async def checked_form(request: web.Request) -> tuple[Session, dict[str, str]]:
    """The posted form of an operating session, if it came from our page (Origin, CSRF)."""
    session, account = operating(request)
    form = await request.post()
    token = str(form.get("csrf", ""))
    if not _same_origin(request) or not request.app[SIGNER].csrf_ok(session, token):
        text = "Aktionen nur über die Schaltflächen dieser Seiten."
        raise Denied(_html(message_page("Abgelehnt", text, account), 403))
    return session, {k: str(v) for k, v in form.items()}


def csrf_input(request: web.Request, session: Session) -> str:
    token = request.app[SIGNER].csrf_token(session)
    return f'<input type="hidden" name="csrf" value="{escape(token)}">'


def button_form(
    action: str, label: str, csrf_html: str, *, fields_html: str = "", secondary: bool = False
) -> str:
    css = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post" action="{escape(action)}">{csrf_html}{fields_html}'
        f'<button type="submit"{css}>{escape(label)}</button></form>'
    )


def actor_of(key: ApiKey) -> str:
    return f"key:{key.id}"


def own_tenants(key: ApiKey) -> list[str] | None:
    return None if key.role is Role.OPERATOR else [key.tenant or ""]


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%d.%m.%Y %H:%M:%S") if value else "–"


def state_html(state: str, label: str) -> str:
    return f'<span class="state state-{escape(state)}">{escape(label)}</span>'


def notice_html(text: str, *, failed: bool = False) -> str:
    css = "notice failed" if failed else "notice"
    return f'<p class="{css}" role="status">{escape(text)}</p>'


def respond(title: str, content_html: str, account_html: str, status: int = 200) -> web.Response:
    return _html(page(title, content_html, account_html), status)


def refused(title: str, text: str, account_html: str, status: int) -> web.Response:
    return _html(message_page(title, text, account_html), status)


def back_to(location: str) -> web.Response:
    return _see_other(location)
