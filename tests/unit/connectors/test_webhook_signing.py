"""Standard Webhooks signatures: the published example, verification, secret parsing."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from connectors._signing import decode_secret, sign, signature_header, verify_signature

# The example published with the Standard Webhooks reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER = "whsec_" + base64.b64encode(b"another-secret-with-24-bytes").decode()


def headers(signature: str, *, msg_id: str = MSG_ID, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_known_answer_from_the_reference_libraries() -> None:
    assert sign(decode_secret(SECRET), MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED


def test_reference_example_verifies() -> None:
    assert verify_signature(SECRET, headers(EXPECTED), PAYLOAD, now=TIMESTAMP)
    assert verify_signature(SecretStr(SECRET), headers(EXPECTED), PAYLOAD, now=TIMESTAMP + 299)


@pytest.mark.parametrize(
    ("secret", "hdrs", "body", "now"),
    [
        pytest.param(SECRET, headers(EXPECTED), PAYLOAD + b" ", TIMESTAMP, id="body changed"),
        pytest.param(OTHER, headers(EXPECTED), PAYLOAD, TIMESTAMP, id="other secret"),
        pytest.param(
            SECRET, headers(EXPECTED, msg_id="msg_other"), PAYLOAD, TIMESTAMP, id="id changed"
        ),
        pytest.param(SECRET, headers(EXPECTED), PAYLOAD, TIMESTAMP + 301, id="too old"),
        pytest.param(SECRET, headers(EXPECTED), PAYLOAD, TIMESTAMP - 301, id="too new"),
        pytest.param(SECRET, headers(""), PAYLOAD, TIMESTAMP, id="no signature"),
        pytest.param(SECRET, {"webhook-signature": EXPECTED}, PAYLOAD, TIMESTAMP, id="no id"),
        pytest.param(
            SECRET,
            {**headers(EXPECTED), "webhook-timestamp": "1614265330.0"},
            PAYLOAD,
            TIMESTAMP,
            id="timestamp not an integer",
        ),
        pytest.param(SECRET, headers(EXPECTED[:-2] + "x="), PAYLOAD, TIMESTAMP, id="tampered"),
        pytest.param(SECRET, headers(EXPECTED, msg_id="a.b"), PAYLOAD, TIMESTAMP, id="dot in id"),
    ],
)
def test_verification_rejects(secret: str, hdrs: dict[str, str], body: bytes, now: int) -> None:
    assert not verify_signature(secret, hdrs, body, now=now)


def test_any_one_of_several_signatures_suffices() -> None:
    mixed = f"v1a,bm90IGFuIGVkMjU1MTk= v1,{'A' * 43}= {EXPECTED}"

    assert verify_signature(SECRET, headers(mixed), PAYLOAD, now=TIMESTAMP)


def test_header_names_are_case_insensitive() -> None:
    shouting = {k.upper(): v for k, v in headers(EXPECTED).items()}

    assert verify_signature(SECRET, shouting, PAYLOAD, now=TIMESTAMP)


def test_tolerance_is_configurable() -> None:
    assert verify_signature(SECRET, headers(EXPECTED), PAYLOAD, 3600, now=TIMESTAMP + 3000)
    assert not verify_signature(SECRET, headers(EXPECTED), PAYLOAD, 10, now=TIMESTAMP + 11)


def test_rotation_signs_once_per_key_in_order() -> None:
    keys = [decode_secret(OTHER), decode_secret(SECRET)]

    value = signature_header(keys, MSG_ID, TIMESTAMP, PAYLOAD)

    first, second = value.split(" ")
    assert second == EXPECTED
    assert first == sign(keys[0], MSG_ID, TIMESTAMP, PAYLOAD)
    assert verify_signature(OTHER, headers(value), PAYLOAD, now=TIMESTAMP)
    assert verify_signature(SECRET, headers(value), PAYLOAD, now=TIMESTAMP)


def test_an_id_with_a_dot_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        sign(decode_secret(SECRET), "a.b", TIMESTAMP, PAYLOAD)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_", "standard base64"),
        ("whsec_not base64!!", "standard base64"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "not valid base64"),  # bad padding
        ("whsec_" + base64.b64encode(b"short").decode(), "this one has 5"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "this one has 65"),
        ("whsec_" + base64.urlsafe_b64encode(b"\xfb" * 30).decode(), "standard base64"),
    ],
)
def test_malformed_secrets_are_refused_without_echoing_them(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        decode_secret(secret)

    secret_part = secret.removeprefix("whsec_")
    if len(secret_part) > 3:
        assert secret_part not in str(caught.value)
