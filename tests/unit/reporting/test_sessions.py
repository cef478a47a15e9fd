"""Signed session cookies: bound to key, secret and expiry; CSRF tokens bound to the session."""

from __future__ import annotations

from pathlib import Path

from ozgbridge.tenants import ApiKey, Deployment, Role, token_sha256
from ozgbridge.ui.sessions import SessionSigner

NOW = 1_800_000_000.0


def deployment(*keys: ApiKey) -> Deployment:
    return Deployment(config_dir=Path("."), tenants={}, keys=keys, fingerprint="f")


COORDINATOR = ApiKey(id="coord", role=Role.COORDINATOR, sha256=token_sha256("a"))


def test_a_cookie_verifies_until_it_expires() -> None:
    signer = SessionSigner(b"secret", lifetime=3600)
    cookie = signer.issue(COORDINATOR, now=NOW)

    valid = signer.verify(cookie, deployment(COORDINATOR), now=NOW + 3599)
    expired = signer.verify(cookie, deployment(COORDINATOR), now=NOW + 3600)

    assert valid is not None
    assert valid.key == COORDINATOR
    assert expired is None


def test_another_secret_or_a_rotated_key_ends_the_session() -> None:
    signer = SessionSigner(b"secret", lifetime=3600)
    cookie = signer.issue(COORDINATOR, now=NOW)
    rotated = COORDINATOR.model_copy(update={"sha256": token_sha256("b")})

    assert SessionSigner(b"other", 3600).verify(cookie, deployment(COORDINATOR), now=NOW) is None
    assert signer.verify(cookie, deployment(rotated), now=NOW) is None
    assert signer.verify(cookie, deployment(), now=NOW) is None


def test_garbage_is_no_session() -> None:
    signer = SessionSigner(b"secret", lifetime=3600)

    for cookie in (None, "", "x", "a.b.c", "!!!.???", "e30.AAAA", "x" * 5000):
        assert signer.verify(cookie, deployment(COORDINATOR), now=NOW) is None


def test_csrf_token_belongs_to_its_session() -> None:
    signer = SessionSigner(b"secret", lifetime=3600)
    first = signer.verify(signer.issue(COORDINATOR, now=NOW), deployment(COORDINATOR), now=NOW)
    second = signer.verify(signer.issue(COORDINATOR, now=NOW + 1), deployment(COORDINATOR), now=NOW)
    assert first is not None
    assert second is not None

    assert signer.csrf_ok(first, signer.csrf_token(first))
    assert not signer.csrf_ok(first, signer.csrf_token(second))
    assert not signer.csrf_ok(first, "")
