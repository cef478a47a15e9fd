"""Keys and signatures the FIT-Connect fakes and tests share (made once per test session)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from functools import cache
from typing import Any

from joserfc.jwk import RSAKey


@cache
def rsa_key(name: str, bits: int = 4096) -> RSAKey:
    """A private RSA key per name, made once per test session (4096 bits is slow to make)."""
    return RSAKey.generate_key(bits, private=True, parameters={"kid": f"{name}-{uuid.uuid4()}"})


def encryption_jwk(key: RSAKey, **overrides: Any) -> dict[str, Any]:
    """A destination's public encryption key as the Submission API publishes it."""
    jwk = {**key.as_dict(private=False), "alg": "RSA-OAEP-256", "key_ops": ["wrapKey"]}
    jwk.pop("use", None)
    jwk.update(overrides)
    return jwk


def signature_jwk(key: RSAKey) -> dict[str, Any]:
    jwk = {**key.as_dict(private=False), "alg": "PS512", "key_ops": ["verify"]}
    jwk.pop("use", None)
    return jwk


def callback_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``callback-authentication``: hex HMAC-SHA512 over ``"{timestamp}.{body}"`` (FITKO docs,
    "Callbacks")."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest()
