"""Standard Webhooks signatures (https://www.standardwebhooks.com), symmetric scheme ``v1``.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` with HMAC-SHA256; the key is the
base64 part of a ``whsec_…`` secret. Several secrets (rotation) give several signatures, separated
by spaces in one ``webhook-signature`` header; a receiver accepts the request if any one matches.

`verify_signature` is public so that back-ends, test stand-ins and other parts of ozgbridge check
signatures exactly the way the HTTP connector makes them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping

from pydantic import SecretStr

__all__ = [
    "SECRET_PREFIX",
    "decode_secret",
    "sign",
    "signature_header",
    "verify_signature",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
# The spec asks for at least 24 random bytes and at most 512 bits.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def decode_secret(secret: str | SecretStr) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` secret; ValueError if it is not one.

    Error messages never repeat the secret: they end up in configuration error reports.
    """
    text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not text.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret must start with {SECRET_PREFIX!r}")
    encoded = text[len(SECRET_PREFIX) :]
    if not _BASE64.fullmatch(encoded):
        raise ValueError(f"the part after {SECRET_PREFIX!r} must be standard base64")
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError(f"the part after {SECRET_PREFIX!r} is not valid base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a signing secret must decode to {MIN_SECRET_BYTES}–{MAX_SECRET_BYTES} bytes, "
            f"this one has {len(key)}"
        )
    return key


def _signed_prefix(msg_id: str, timestamp: int) -> bytes:
    # A '.' in the id would let two different (id, timestamp, body) triples sign the same bytes.
    if "." in msg_id:
        raise ValueError("a webhook id must not contain '.'")
    return f"{msg_id}.{timestamp}.".encode()


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` signature of ``body`` for this id and timestamp."""
    mac = hmac.new(key, _signed_prefix(msg_id, timestamp), hashlib.sha256)
    # update() instead of concatenating: bodies can be tens of megabytes.
    mac.update(body)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def signature_header(keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per key, space-separated."""
    return " ".join(sign(key, msg_id, timestamp, body) for key in keys)


def verify_signature(
    secret: str | SecretStr,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> bool:
    """True if ``headers`` carry a valid ``v1`` signature of ``body`` made with ``secret``.

    Checks the timestamp against ``now`` (default: the clock) ± ``tolerance`` seconds, which is
    what stops a recorded request from being replayed later. Header names are case-insensitive.
    Raises ValueError only for a malformed ``secret``; a malformed request just answers False.
    """
    key = decode_secret(secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp_text = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and signatures and re.fullmatch(r"[0-9]{1,12}", timestamp_text)):
        return False
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    try:
        expected = sign(key, msg_id, timestamp, body).encode("ascii")
    except ValueError:
        return False
    # Constant-time comparisons, so a mismatch leaks nothing about the expected value; entries of
    # other schemes (``v1a,…``) never match a ``v1`` signature and are skipped that way.
    matched = False
    for offered in signatures.split(" "):
        matched |= hmac.compare_digest(expected, offered.encode("utf-8", "replace"))
    return matched
