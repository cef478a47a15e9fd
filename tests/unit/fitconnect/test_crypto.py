"""FIT-Connect's JOSE profile: keys the rules refuse, JWE round trips, SET verification."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwe as jw_jwe
from jwcrypto import jwk as jw_jwk

from connectors.fitconnect import crypto
from tests.fakes.zustelldienst import encryption_jwk, rsa_key, signature_jwk


@pytest.fixture(scope="module")
def destination_jwk() -> dict[str, object]:
    return encryption_jwk(rsa_key("destination-encryption"))


def test_accepts_a_conforming_key(destination_jwk: dict[str, object]) -> None:
    key = crypto.encryption_key(destination_jwk)

    assert key.kid == destination_jwk["kid"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kty": "EC"}, "not an RSA key"),
        ({"alg": "RSA1_5"}, "alg is 'RSA1_5'"),
        ({"key_ops": ["encrypt"]}, "wrapKey"),
        ({"key_ops": None}, "wrapKey"),
        ({"kid": None}, "no kid"),
        ({"n": "AQAB"}, "cannot be read|bits"),
    ],
)
def test_refuses_keys_outside_the_rules(
    destination_jwk: dict[str, object], change: dict[str, object], message: str
) -> None:
    with pytest.raises(crypto.KeyRejected, match=message):
        crypto.encryption_key({**destination_jwk, **change})


def test_private_members_of_a_published_key_are_never_used(
    destination_jwk: dict[str, object],
) -> None:
    # A destination that leaks its private key into the JWK must not make us use it.
    leaked = {**rsa_key("destination-encryption").as_dict(private=True), **destination_jwk}

    key = crypto.encryption_key(leaked)

    assert not key.is_private


def test_jwe_decrypts_with_jwcrypto_and_back(destination_jwk: dict[str, object]) -> None:
    payload = bytes(range(256)) * 3
    token = crypto.encrypt(payload, crypto.encryption_key(destination_jwk), content_type="a/b")

    private = jw_jwk.JWK(**rsa_key("destination-encryption").as_dict(private=True))
    message = jw_jwe.JWE()
    message.deserialize(token, key=private)
    assert message.payload == payload
    assert json.loads(message.objects["protected"]) == {
        "alg": "RSA-OAEP-256",
        "enc": "A256GCM",
        "kid": destination_jwk["kid"],
        "cty": "a/b",
    }
    own_key = crypto.private_key(
        json.dumps(rsa_key("destination-encryption").as_dict(private=True))
    )
    assert crypto.decrypt(token, own_key)[0] == payload


def test_compressed_or_foreign_algorithm_jwe_is_refused() -> None:
    private = rsa_key("destination-encryption")
    public = jw_jwk.JWK(**private.as_dict(private=False))
    own_key = crypto.private_key(json.dumps(private.as_dict(private=True)))

    def made_by_jwcrypto(header: dict[str, str]) -> str:
        message = jw_jwe.JWE(b"x" * 100, protected=json.dumps(header))
        message.add_recipient(public)
        return str(message.serialize(compact=True))

    zipped = made_by_jwcrypto({"alg": "RSA-OAEP-256", "enc": "A256GCM", "zip": "DEF"})
    sha1_oaep = made_by_jwcrypto({"alg": "RSA-OAEP", "enc": "A256GCM"})
    with pytest.raises(crypto.CryptoFailure):
        crypto.decrypt(zipped, own_key)
    with pytest.raises(crypto.CryptoFailure):
        crypto.decrypt(sha1_oaep, own_key)


def test_set_verifies_only_with_the_signers_key() -> None:
    signer = rsa_key("destination-signature")
    token = crypto.sign_set({"sub": "submission:1"}, signer)
    public = crypto.private_key(json.dumps(signer.as_dict(private=True)))

    assert crypto.verify_set(token, public)["sub"] == "submission:1"
    assert crypto.set_header(token)["typ"] == "secevent+jwt"
    with pytest.raises(crypto.CryptoFailure, match="signature"):
        crypto.verify_set(token, rsa_key("impostor"))
    head, payload, signature = token.split(".")
    with pytest.raises(crypto.CryptoFailure, match="signature"):
        crypto.verify_set(f"{head}.{payload[:-4]}AAAA.{signature}", public)
    assert signature_jwk(signer)["alg"] == "PS512"


def test_pem_keys_take_the_configured_kid_and_sign_sets_with_it() -> None:
    signer = rsa_key("destination-signature")
    pem = signer.as_pem(private=True).decode()

    with pytest.raises(crypto.KeyRejected, match="no kid"):
        crypto.private_key(pem)  # a PEM knows no kid: a SET would carry "kid": null
    key = crypto.private_key(pem, kid=signer.kid)
    token = crypto.sign_set({"sub": "submission:1"}, key)

    assert crypto.set_header(token)["kid"] == signer.kid
    assert crypto.verify_set(token, signer)["sub"] == "submission:1"


def test_jwk_keys_bring_their_kid_and_a_conflicting_one_is_refused() -> None:
    signer = rsa_key("destination-signature")
    text = json.dumps(signer.as_dict(private=True))

    assert crypto.private_key(text).kid == signer.kid
    assert crypto.private_key(text, kid=signer.kid).kid == signer.kid
    with pytest.raises(crypto.KeyRejected, match="differs"):
        crypto.private_key(text, kid="another-kid")
    without = {k: v for k, v in signer.as_dict(private=True).items() if k != "kid"}
    assert crypto.private_key(json.dumps(without), kid="registered-kid").kid == "registered-kid"


def test_keys_with_another_exponent_are_refused(destination_jwk: dict[str, object]) -> None:
    with pytest.raises(crypto.KeyRejected, match="exponent"):
        crypto.encryption_key({**destination_jwk, "e": "Aw"})


def test_a_jwe_to_another_kid_is_not_decrypted(destination_jwk: dict[str, object]) -> None:
    public = crypto.encryption_key(destination_jwk)
    token = crypto.encrypt(b"x" * 10, public, content_type="application/json")
    private = rsa_key("destination-encryption").as_dict(private=True)
    renamed = crypto.private_key(json.dumps({**private, "kid": "rotated-key"}))

    with pytest.raises(crypto.CryptoFailure, match="another key"):
        crypto.decrypt(token, renamed)
