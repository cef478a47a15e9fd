"""Signed session cookies: bound to key, secret and expiry; CSRF tokens bound to the session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from ozgbridge.tenants import ApiKey, Deployment, Role, token_sha256
from ozgbridge.ui.sessions import SessionSigner

NOW = 1_800_000_000.0
SID = "01J00000000000000000000000"


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


def signed(signer: SessionSigner, claims: str) -> str:
    """A cookie with exactly these claims and a valid signature (as only the server can make)."""
    payload = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=").decode()
    mac = hmac.new(b"secret", f"session|{payload}".encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_every_session_has_its_own_id() -> None:
    signer = SessionSigner(b"secret", lifetime=3600)
    sessions = [
        signer.verify(signer.issue(COORDINATOR, now=NOW), deployment(COORDINATOR), now=NOW)
        for _ in range(3)
    ]
    assert len({s.id for s in sessions if s is not None}) == 3


def test_the_signature_is_checked_before_the_claims_are_read() -> None:
    # The review's forged cookie: expiry Infinity, parsed before the signature used to be a 500.
    forged = base64.urlsafe_b64encode(b'{"k":"coord","e":Infinity}').decode().rstrip("=")
    signer = SessionSigner(b"secret", lifetime=3600)

    assert signer.verify(f"{forged}.{'A' * 43}", deployment(COORDINATOR), now=NOW) is None


@pytest.mark.parametrize(
    "claims",
    [
        '{"s":"SID","k":"coord","e":Infinity,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":NaN,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":1e400,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":9e99999,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":1900000000.5,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":true,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":"1900000000","h":"BIND"}',
        '{"s":"SID","k":"coord","e":99999999999999999999999,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":1900000000,"e":1,"h":"BIND"}',
        '{"s":"SID","k":["coord"],"e":1900000000,"h":"BIND"}',
        '{"s":"SID","k":"coord","e":1900000000,"h":"BIND","x":1}',
        '{"s":"SID","k":"coord","e":1900000000,"h":"BIND\u00e4"}',
        '["SID","BIND"]',
    ],
)
def test_signed_but_malformed_claims_are_no_session(claims: str) -> None:
    signer = SessionSigner(b"secret", lifetime=3600)
    genuine = signer.verify(signer.issue(COORDINATOR, now=NOW), deployment(COORDINATOR), now=NOW)
    assert genuine is not None
    binding = json.loads(base64.urlsafe_b64decode(genuine.cookie.split(".")[0] + "=="))["h"]
    cookie = signed(signer, claims.replace("SID", SID).replace("BIND", binding))

    assert signer.verify(cookie, deployment(COORDINATOR), now=NOW) is None


def test_a_well_formed_signed_cookie_is_accepted() -> None:
    # The control for the test above: the same construction with sound claims is a session.
    signer = SessionSigner(b"secret", lifetime=3600)
    genuine = signer.verify(signer.issue(COORDINATOR, now=NOW), deployment(COORDINATOR), now=NOW)
    assert genuine is not None
    binding = json.loads(base64.urlsafe_b64decode(genuine.cookie.split(".")[0] + "=="))["h"]
    claims = json.dumps({"s": SID, "k": "coord", "e": 1_900_000_000, "h": binding})

    session = signer.verify(signed(signer, claims), deployment(COORDINATOR), now=NOW)

    assert session is not None
    assert session.id == SID
