"""Dashboard sessions: cookies signed with HMAC-SHA256 under a server secret, revocable.

Why signed cookies: ozgbridge scales out as several stateless API processes behind one load
balancer; a session kept in one process's memory would be unknown to the next. A signed cookie
works in every process that has the secret (``OZGBRIDGE_UI_SESSION_SECRET``). Sign-out must still
end a session everywhere, also for a copy of the cookie taken before: the session's id goes into
the revocation table (`ozgbridge.store.sessions`), which every process consults.

The cookie is ``<payload>.<signature>``: the payload is base64url JSON naming the session id, the
API key, the expiry and a binding to the key's stored hash (so removing or rotating the key in
keys.yaml ends its sessions at once); the signature covers the payload. The signature is checked
*before* anything in the cookie is parsed, and the claims are then read strictly — anything
malformed (wrong alphabet, duplicate keys, ``Infinity``, a float or a huge number for the expiry)
is simply no session, never an error. The token itself never goes into the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import structlog

from ozgbridge.ids import is_id, new_id
from ozgbridge.settings import Settings
from ozgbridge.tenants import ApiKey, Deployment

log = structlog.get_logger("ozgbridge.ui")
COOKIE = "ozgb_ui"
MAX_COOKIE = 1024
_COOKIE = re.compile(r"([A-Za-z0-9_-]{1,900})\.([A-Za-z0-9_-]{43})")
_KEY_BINDING_LENGTH = 16
# Expiries beyond this (year 2286) are not ones we issue.
_MAX_EXPIRY = 9_999_999_999


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    id: str
    key: ApiKey
    expires: int
    cookie: str


@dataclass(frozen=True)
class _Claims:
    session_id: str
    key_id: str
    expires: int
    key_binding: str


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _claims(payload: str) -> _Claims | None:
    """The claims of a payload whose signature already checked out; None if not exactly ours."""
    try:
        document = json.loads(
            _unb64(payload).decode("utf-8"),
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_object,
        )
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(document, dict) or set(document) != {"s", "k", "e", "h"}:
        return None
    session_id, key_id, expires, binding = (document[name] for name in ("s", "k", "e", "h"))
    if not (isinstance(session_id, str) and is_id(session_id)):
        return None
    if not (isinstance(key_id, str) and 0 < len(key_id) <= 64):
        return None
    # bool is an int in Python; a signed cookie never holds one, but be exact.
    if type(expires) is not int or not 0 < expires <= _MAX_EXPIRY:
        return None
    if not (isinstance(binding, str) and binding.isascii()):
        return None
    return _Claims(session_id, key_id, expires, binding)


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

    def _key_binding(self, key: ApiKey) -> str:
        return _b64(self._mac("key", key.id, key.sha256))[:_KEY_BINDING_LENGTH]

    def issue(self, key: ApiKey, *, now: float | None = None) -> str:
        expires = int(now if now is not None else time.time()) + self.lifetime
        claims = {"s": new_id(), "k": key.id, "e": expires, "h": self._key_binding(key)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac('session', payload))}"

    def verify(
        self, cookie: str | None, deployment: Deployment, *, now: float | None = None
    ) -> Session | None:
        """The session in ``cookie`` if its signature, key and expiry hold; else None.

        Revocation is the caller's second step (it needs the database): `Session.id`.
        """
        if not cookie or len(cookie) > MAX_COOKIE:
            return None
        match = _COOKIE.fullmatch(cookie)
        if match is None:
            return None
        payload, signature = match.groups()
        if not hmac.compare_digest(_unb64(signature), self._mac("session", payload)):
            return None
        claims = _claims(payload)
        if claims is None:
            return None
        key = next((k for k in deployment.keys if k.id == claims.key_id), None)
        if key is None or not hmac.compare_digest(claims.key_binding, self._key_binding(key)):
            return None
        now = now if now is not None else time.time()
        if claims.expires <= now or (key.expires is not None and key.expires.timestamp() <= now):
            return None  # the session, or the key itself, has expired
        return Session(id=claims.session_id, key=key, expires=claims.expires, cookie=cookie)

    def csrf_token(self, session: Session) -> str:
        """A token for state-changing forms, bound to this session's cookie."""
        return _b64(self._mac("csrf", session.cookie))

    def csrf_ok(self, session: Session, token: str) -> bool:
        expected = self.csrf_token(session)
        return token.isascii() and hmac.compare_digest(token.encode(), expected.encode())
