"""FIT-Connect's JOSE profile: JWE for payloads, PS512-signed Security Event Tokens, key checks.

Everything cryptographic is done by joserfc and `cryptography`; this module only pins the
algorithms FIT-Connect prescribes and checks the keys a Zustelldienst hands out, so that no
payload is ever encrypted to a key the specification would refuse.

- Payloads: compact JWE, ``alg`` RSA-OAEP-256, ``enc`` A256GCM, ``kid`` and ``cty`` set, never
  compressed (``zip`` is refused on decryption: compression before encryption leaks content).
- Encryption keys: RSA, at least 4096 bits, ``alg`` RSA-OAEP-256, ``key_ops`` containing
  ``wrapKey``; in production an ``x5c`` chain that ends at a trusted certificate.
- Events: JWS compact, ``alg`` PS512, ``typ`` secevent+jwt.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, RSAKey

from connectors.fitconnect import limits
from ozgbridge.errors import InvalidValue

JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256GCM"
SET_ALG = "PS512"
SET_TYP = "secevent+jwt"
MIN_RSA_BITS = 4096
_JWE_ALGORITHMS = (JWE_ALG, JWE_ENC)
# The public exponent the JWK schema of FIT-Connect allows (``e`` enum ["AQAB"], routing-api.yaml
# and metadata 2.1.0 ``encryptionPublicKey``).
RSA_EXPONENT = "AQAB"


def _decryption_registry() -> JWERegistry:
    registry = JWERegistry(algorithms=list(_JWE_ALGORITHMS))
    # joserfc refuses ciphertexts over 64 KB by default (a guard against memory exhaustion); an
    # upload may be much larger. The cap stays, at the largest single upload FIT-Connect allows.
    registry.max_ciphertext_length = limits.MAX_UPLOAD_BYTES * 4 // 3 + 4  # base64url of the cap
    registry.max_encrypted_key_length = 2048  # RSA keys above 4096 bits wrap longer keys
    return registry


class KeyRejected(InvalidValue):
    """A key that FIT-Connect's rules do not allow (size, algorithm, use, certificate chain)."""


class CryptoFailure(InvalidValue):
    """A token that cannot be decrypted or verified; the message names no content."""


def encryption_key(
    jwk: Mapping[str, Any], *, trusted: Iterable[x509.Certificate] | None = None
) -> RSAKey:
    """The destination's public encryption key, if FIT-Connect allows encrypting to it."""
    if jwk.get("kty") != "RSA":
        raise KeyRejected("encryption key is not an RSA key")
    if jwk.get("alg") != JWE_ALG:
        raise KeyRejected(f"encryption key alg is {jwk.get('alg')!r}, not {JWE_ALG}")
    if "wrapKey" not in (jwk.get("key_ops") or ()):
        raise KeyRejected("encryption key does not allow wrapKey")
    if not isinstance(jwk.get("kid"), str):
        raise KeyRejected("encryption key has no kid")
    if jwk.get("e") != RSA_EXPONENT:
        raise KeyRejected(f"encryption key exponent is not {RSA_EXPONENT} (65537)")
    # key_ops was checked above against RFC 7517's vocabulary (wrapKey); joserfc checks it
    # against its own operation names ("encrypt" for RSA-OAEP), so it is not passed on.
    private_members = ("d", "p", "q", "dp", "dq", "qi", "key_ops")
    public = {k: v for k, v in jwk.items() if k not in private_members}
    try:
        key = RSAKey.import_key(public)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyRejected(f"encryption key cannot be read ({type(exc).__name__})") from exc
    raw = key.raw_value
    assert isinstance(raw, RSAPublicKey)  # public members only, imported above
    if raw.key_size < MIN_RSA_BITS:
        raise KeyRejected(f"encryption key has {raw.key_size} bits, fewer than {MIN_RSA_BITS}")
    if trusted is not None:
        check_certificate_chain(jwk, raw, list(trusted))
    return key


def check_certificate_chain(
    jwk: Mapping[str, Any], public_key: RSAPublicKey, trusted: list[x509.Certificate]
) -> None:
    """The ``x5c`` chain: leaf holds this key, each certificate issued by the next, all valid
    now, and the last issued by (or equal to) one of ``trusted``."""
    chain_b64 = jwk.get("x5c")
    if not isinstance(chain_b64, list) or not chain_b64:
        raise KeyRejected("encryption key has no x5c certificate chain")
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in chain_b64]
    except (ValueError, TypeError) as exc:
        raise KeyRejected("x5c certificate cannot be read") from exc
    if chain[0].public_key().public_numbers() != public_key.public_numbers():  # type: ignore[union-attr]
        raise KeyRejected("x5c leaf certificate does not hold the encryption key")
    now = datetime.now(UTC)
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise KeyRejected("a certificate in x5c is not valid now")
    try:
        for cert, issuer in itertools.pairwise(chain):
            cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise KeyRejected("x5c chain is broken") from exc
    last = chain[-1]
    for anchor in trusted:
        if last == anchor:
            return
        try:
            last.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise KeyRejected("x5c chain does not end at a trusted certificate")


def load_certificates(pem: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem.encode("ascii"))
    except ValueError as exc:
        raise KeyRejected("trusted_certificates holds no readable PEM certificate") from exc


def encrypt(payload: bytes, key: RSAKey, *, content_type: str) -> str:
    """``payload`` as compact JWE to ``key`` (its ``kid`` in the header)."""
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "kid": key.kid, "cty": content_type}
    return jwe.encrypt_compact(header, payload, key, algorithms=_JWE_ALGORITHMS)


def private_key(jwk_text: str, *, kid: str | None = None) -> RSAKey:
    """A private RSA key from its JWK (JSON) or PEM form, with the ``kid`` it is registered under.

    The kid names the key at the destination (SETs carry it in their header, JWEs to it name it),
    so it must be the registered one: a JWK brings its own; a PEM has none and needs ``kid``
    from the configuration. A JWK whose kid differs from a configured one is refused.
    """
    text = jwk_text.strip()
    try:
        if text.startswith("{"):
            document = json.loads(text)
            if not isinstance(document, dict):
                raise ValueError("not a JWK object")
            own = document.get("kid")
            if kid is not None and own is not None and own != kid:
                raise KeyRejected("the JWK's kid differs from the configured kid")
            if kid is not None:
                document["kid"] = kid
            key = RSAKey.import_key(document)
        else:
            key = RSAKey.import_key(text, parameters={"kid": kid} if kid else None)
    except KeyRejected:
        raise
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyRejected(f"private key cannot be read ({type(exc).__name__})") from exc
    if not isinstance(key.raw_value, RSAPrivateKey):
        raise KeyRejected("the key is not a private RSA key")
    if not isinstance(key.kid, str) or not key.kid:
        raise KeyRejected("the key has no kid: a PEM key needs its registered kid configured")
    if key.as_dict(private=False).get("e") != RSA_EXPONENT:
        raise KeyRejected(f"the key's exponent is not {RSA_EXPONENT} (65537)")
    return key


def decrypt(token: str | bytes, key: RSAKey) -> tuple[bytes, dict[str, Any]]:
    """Plaintext and protected header of a FIT-Connect JWE; `CryptoFailure` otherwise."""
    try:
        result = jwe.decrypt_compact(token, key, registry=_decryption_registry())
    except (JoseError, ValueError, TypeError) as exc:
        raise CryptoFailure(f"JWE cannot be decrypted ({type(exc).__name__})") from exc
    header = dict(result.protected)
    if key.kid is not None and header.get("kid") != key.kid:
        raise CryptoFailure("JWE is encrypted to another key (kid)")
    if "zip" in header:
        raise CryptoFailure("JWE is compressed, which FIT-Connect forbids")
    if result.plaintext is None:
        raise CryptoFailure("JWE has no plaintext")
    return result.plaintext, header


def authentication_tag(token: str) -> str:
    """The fifth part of a compact JWE; accept-submission events name payloads by it."""
    parts = token.split(".")
    if len(parts) != 5:
        raise CryptoFailure("not a compact JWE")
    return parts[4]


def sign_set(claims: Mapping[str, Any], key: RSAKey) -> str:
    """A Security Event Token with ``claims``, signed PS512 by ``key``."""
    header = {"alg": SET_ALG, "typ": SET_TYP, "kid": key.kid}
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return jws.serialize_compact(header, payload, key, algorithms=[SET_ALG])


def set_header(token: str) -> dict[str, Any]:
    """The unverified header, only to pick the key for verifying."""
    try:
        head = token.split(".", 1)[0]
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, TypeError) as exc:
        raise CryptoFailure("SET header cannot be read") from exc
    if not isinstance(decoded, dict):
        raise CryptoFailure("SET header is not an object")
    return decoded


def verify_set(token: str, keys: KeySet | RSAKey) -> dict[str, Any]:
    """The claims of a SET whose PS512 signature ``keys`` confirm; `CryptoFailure` otherwise."""
    header = set_header(token)
    if header.get("alg") != SET_ALG or header.get("typ") != SET_TYP:
        raise CryptoFailure("SET is not PS512 secevent+jwt")
    try:
        result = jws.deserialize_compact(token, keys, algorithms=[SET_ALG])
    except (JoseError, ValueError, TypeError) as exc:
        raise CryptoFailure(f"SET signature does not verify ({type(exc).__name__})") from exc
    try:
        claims = json.loads(result.payload)
    except ValueError as exc:
        raise CryptoFailure("SET payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise CryptoFailure("SET payload is not an object")
    return claims
