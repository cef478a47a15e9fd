"""Dashboard sessions: stateless cookies signed with HMAC-SHA256 under a server secret.

Why signed cookies and not server-side sessions: ozgbridge scales out as several stateless API
processes behind one load balancer; a session kept in one process's memory would be unknown to
the next. A signed cookie works in every process that has the secret
(``OZGBRIDGE_UI_SESSION_SECRET``).

The cookie names the API key and an expiry; the signature also covers the key's stored hash, so
removing or rotating the key in keys.yaml ends its sessions at once, and a changed secret ends all
of them. The token itself never goes into the cookie. Sign-out deletes the cookie; a copy taken
before would stay valid until it expires, which the short lifetime bounds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import structlog

from ozgbridge.settings import Settings
from ozgbridge.tenants import ApiKey, Deployment

log = structlog.get_logger("ozgbridge.ui")
COOKIE = "ozgb_ui"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    key: ApiKey
    expires: int
    cookie: str


class SessionSigner:
    def __init__(self, secret: bytes, lifetime: int) -> None:
        self._secret = secret
        self.lifetime = lifetime

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionSigner:
        configured = settings.ui_session_secret
        if configured is None:
            log.warning(
                "ui.session_secret_generated",
                hint="set OZGBRIDGE_UI_SESSION_SECRET so sessions survive restarts and work "
                "across API processes",
            )
            return cls(secrets.token_bytes(32), settings.ui_session_seconds)
        return cls(configured.get_secret_value().encode("utf-8"), settings.ui_session_seconds)

    def _mac(self, *parts: str) -> bytes:
        return hmac.new(self._secret, "|".join(parts).encode("utf-8"), hashlib.sha256).digest()

    def issue(self, key: ApiKey, *, now: float | None = None) -> str:
        expires = int(now if now is not None else time.time()) + self.lifetime
        payload = _b64(json.dumps({"k": key.id, "e": expires}, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac('session', payload, key.sha256))}"

    def verify(
        self, cookie: str | None, deployment: Deployment, *, now: float | None = None
    ) -> Session | None:
        """The session in ``cookie`` if its signature, key and expiry hold; else None."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 1024:
            return None
        payload, signature = cookie.split(".")
        try:
            claims = json.loads(_unb64(payload))
            given = _unb64(signature)
            key_id, expires = str(claims["k"]), int(claims["e"])
        except (ValueError, KeyError, TypeError):
            return None
        key = next((k for k in deployment.keys if k.id == key_id), None)
        if key is None:
            return None
        if not hmac.compare_digest(given, self._mac("session", payload, key.sha256)):
            return None
        now = now if now is not None else time.time()
        if expires <= now or (key.expires is not None and key.expires.timestamp() <= now):
            return None
        return Session(key=key, expires=expires, cookie=cookie)

    def csrf_token(self, session: Session) -> str:
        """A token for state-changing forms, bound to this session's cookie."""
        return _b64(self._mac("csrf", session.cookie))

    def csrf_ok(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.csrf_token(session).encode())
