"""Throw-away certificates for connector tests: a CA, a TLS server certificate, S/MIME ones."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Identity:
    certificate: x509.Certificate
    key: Key

    @property
    def cert_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def key_pem(self, passphrase: bytes | None = None) -> str:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode("ascii")

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert.write_text(self.cert_pem)
        key.write_text(self.key_pem())
        return cert, key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(
    common_name: str,
    *,
    issuer: Identity | None = None,
    ca: bool = False,
    ip: str | None = None,
    email: str | None = None,
    key: Key | None = None,
    not_after: datetime | None = None,
) -> Identity:
    """A certificate for ``common_name``, self-signed when ``issuer`` is None."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    not_after = not_after or now + timedelta(days=30)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.certificate.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, not_after) - timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if email is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        ).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    signing_key = issuer.key if issuer else key
    return Identity(builder.sign(signing_key, hashes.SHA256()), key)


@dataclass(frozen=True)
class Pki:
    ca: Identity
    server: Identity  # TLS, for 127.0.0.1
    recipient: Identity  # S/MIME: the Poststelle's encryption certificate
    second_recipient: Identity
    signer: Identity  # S/MIME: ozgbridge's signing certificate (EC key)


@cache
def shared_pki() -> Pki:
    """One set per test process: RSA key generation is slow on a loaded machine."""
    ca = issue("ozgbridge test CA", ca=True)
    return Pki(
        ca=ca,
        server=issue("127.0.0.1", issuer=ca, ip="127.0.0.1"),
        recipient=issue("Poststelle", issuer=ca, email="poststelle@heinsberg.example"),
        second_recipient=issue("Gewerbeamt", issuer=ca, email="gewerbe@heinsberg.example"),
        signer=issue(
            "ozgbridge",
            issuer=ca,
            email="ozgbridge@kreis-heinsberg.example",
            key=ec.generate_private_key(ec.SECP256R1()),
        ),
    )
