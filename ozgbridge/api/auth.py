"""Bearer-token authentication against the deployment's API keys, and role checks.

Tokens are looked up by their SHA-256, never compared: a dictionary lookup on the hash leaks
nothing usable about a stored secret through timing, and keys.yaml holds only hashes. A token past
its ``expires`` gets a 401 that says so; every accepted request marks its key as used (written in
batches, see `key_usage`).
"""

from __future__ import annotations

import re

import structlog
from aiohttp import web

from ozgbridge.api.key_usage import KEY_USAGE
from ozgbridge.api.problems import Problem
from ozgbridge.domain import utcnow
from ozgbridge.tenants import ApiKey, Deployment, token_sha256

API_KEY = web.RequestKey("api_key", ApiKey)
_TOKEN = re.compile(r"[\x21-\x7e]+")

log = structlog.get_logger("ozgbridge.api.auth")

# A demo key in production is worth a warning, but not one per request.
_demo_keys_warned: set[str] = set()


def _unauthorized(detail: str, *, error: str | None = None) -> Problem:
    challenge = 'Bearer realm="ozgbridge"'
    if error is not None:
        challenge += f', error="{error}"'
    return Problem(401, detail, headers={"WWW-Authenticate": challenge})


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def authenticate(request: web.Request, deployment: Deployment) -> ApiKey:
    """The API key of this request; raises a 401 problem without a known bearer token."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("an API key is required: Authorization: Bearer <token>")
    # Tokens are visible ASCII; anything else cannot match, and may not even encode as UTF-8.
    digest = token_sha256(token) if _TOKEN.fullmatch(token) else ""
    key = deployment.key_by_hash(digest) if digest else None
    if key is None:
        raise _unauthorized("unknown API key", error="invalid_token")
    expired = expiry_problem(key, digest)
    if expired is not None:
        log.info("auth.key_expired", key_id=key.id)
        raise _unauthorized(expired, error="invalid_token")
    usage = request.app.get(KEY_USAGE)
    if usage is not None:
        usage.touch(key.id)
    if key.demo and key.id not in _demo_keys_warned:
        _demo_keys_warned.add(key.id)
        log.warning(
            "auth.demo_key_used",
            key_id=key.id,
            role=str(key.role),
            hint="demo tokens are published; remove demo keys from keys.yaml in production",
        )
    request[API_KEY] = key
    return key


def expiry_problem(key: ApiKey, digest: str) -> str | None:
    """Why the token with hash ``digest`` no longer works, or None while it does."""
    expires = key.token_expires(digest)
    if expires is None or expires > utcnow():
        return None
    when = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
    if digest != key.sha256:
        return (
            f"this token of API key {key.id!r} was replaced by a rotation and stopped working "
            f"at {when}: use the key's new token"
        )
    return f"API key {key.id!r} expired at {when}: ask the operator for a new one"


def authenticated_key(request: web.Request) -> ApiKey | None:
    """The key `authenticate` found for this request, if any (for the access log)."""
    return request.get(API_KEY)
