"""Callback authentication (HMAC-SHA512 over timestamp and body, five minutes of freshness)."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from connectors.fitconnect.intake import callback_signature, verify_callback
from ozgbridge.intake import CallbackRejected

SECRET = b"callback-secret"
BODY = b'{"type":"https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions"}'


def headers(secret: bytes = SECRET, *, age: int = 0, body: bytes = BODY) -> dict[str, str]:
    timestamp = str(int(time.time()) - age)
    return {
        "callback-authentication": callback_signature(secret, timestamp, body),
        "callback-timestamp": timestamp,
    }


def test_authentic_fresh_callback_passes_with_any_configured_secret() -> None:
    verify_callback([SECRET], headers(), BODY)
    verify_callback([b"other", SECRET], headers(), BODY)
    verify_callback([SECRET], signed(timestamp=NOW - 299), BODY, now=NOW)


def test_signature_is_hex_hmac_sha512_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha512).hexdigest()
    assert callback_signature(SECRET, "1700000000", BODY) == expected


NOW = 1_700_000_000


def signed(secret: bytes = SECRET, *, timestamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return {
        "callback-authentication": callback_signature(secret, str(timestamp), body),
        "callback-timestamp": str(timestamp),
    }


@pytest.mark.parametrize(
    ("given", "body", "reason"),
    [
        (signed(b"wrong"), BODY, "does not verify"),
        (signed(), BODY + b" ", "does not verify"),
        (signed(timestamp=NOW - 301), BODY, "five minutes"),
        (signed(timestamp=NOW + 301), BODY, "five minutes"),
        ({"callback-timestamp": str(NOW)}, BODY, "missing"),
        ({**signed(), "callback-timestamp": "soon"}, BODY, "missing"),
    ],
)
def test_unauthentic_or_stale_callbacks_are_rejected(
    given: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(CallbackRejected, match=reason):
        verify_callback([SECRET], given, body, now=NOW)


def test_no_secret_configured_rejects_everything() -> None:
    with pytest.raises(CallbackRejected):
        verify_callback([], headers(), BODY)
