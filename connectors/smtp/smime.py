"""S/MIME (RFC 8551) with `cryptography`: sign the content entity, then encrypt it.

Signing makes a ``multipart/signed`` entity (RFC 8551 §3.5.3, detached SHA-256 signature with the
signer's certificate); encryption makes PKCS#7/CMS enveloped data (RSA key transport, AES-CBC,
RFC 8551 §2.7) for every recipient certificate. Sign-then-encrypt hides who signed from relays.
The input is already canonical (CRLF, 7-bit), so neither step rewrites it (``Binary``).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from connectors.smtp.options import PrivateKey, SmimeOptions

Aes = type[algorithms.AES128] | type[algorithms.AES256]
_ALGORITHMS: dict[str, Aes] = {"aes128": algorithms.AES128, "aes256": algorithms.AES256}


@dataclass(frozen=True)
class Smime:
    """Parsed S/MIME material of one route (certificates and key read once, at start-up)."""

    recipients: tuple[x509.Certificate, ...]
    signer: tuple[x509.Certificate, PrivateKey] | None
    algorithm: Aes

    @classmethod
    def from_options(cls, options: SmimeOptions) -> Smime:
        return cls(
            recipients=tuple(options.recipients()),
            signer=options.signer(),
            algorithm=_ALGORITHMS[options.content_encryption],
        )

    @property
    def signs(self) -> bool:
        return self.signer is not None

    def protect(self, entity: bytes) -> EmailMessage:
        """The entity (canonical MIME bytes) signed if configured, then encrypted, as a part."""
        content = self._sign(entity) if self.signer is not None else entity
        builder = pkcs7.PKCS7EnvelopeBuilder().set_data(content)
        for certificate in self.recipients:
            builder = builder.add_recipient(certificate)
        builder = builder.set_content_encryption_algorithm(self.algorithm)
        enveloped = builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
        part = EmailMessage()
        part.set_content(
            enveloped,
            "application",
            "pkcs7-mime",
            params={"smime-type": "enveloped-data", "name": "smime.p7m"},
            disposition="attachment",
            filename="smime.p7m",
        )
        return part

    def _sign(self, entity: bytes) -> bytes:
        assert self.signer is not None
        certificate, key = self.signer
        # SMIME encoding with a detached signature yields the whole multipart/signed entity.
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(entity)
            .add_signer(certificate, key, hashes.SHA256())
            .sign(
                serialization.Encoding.SMIME,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
            )
        )
