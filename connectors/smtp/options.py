"""The ``smtp`` connector's options, checked when the configuration loads."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from ozgbridge.configfile import FieldValueError
from ozgbridge.connector import ConnectorOptions

SUBJECT_FIELDS = ("service_name", "reference", "application_id")
# Names the service and the application, never the applicant: the subject travels in clear text
# even when the body is S/MIME encrypted.
DEFAULT_SUBJECT = "Online-Antrag {service_name} ({application_id})"
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
MAX_SUBJECT_CHARS = 200

# An addr-spec with a dot-atom local part (RFC 5322 §3.4.1), ASCII only: the connector does not
# ask servers for SMTPUTF8, so an internationalised address could not be sent anyway.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]{1,253}")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def check_address(value: str) -> str:
    if len(value) > 254 or not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not a mail address (local@domain, ASCII)")
    return value


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text; ValueError if there is none or the text is not PEM."""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode("utf-8"))
    except ValueError:
        raise ValueError(
            "is not a PEM certificate (-----BEGIN CERTIFICATE-----); "
            "use ${file:PATH} to read one from a file"
        ) from None
    return certificates


def load_private_key(pem: str, passphrase: str | None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(
            pem.encode("utf-8"), password=passphrase.encode("utf-8") if passphrase else None
        )
    except (ValueError, TypeError):
        # Neither the key nor cryptography's message (which may quote it) goes into the error.
        raise ValueError(
            "is not a PEM private key, or its passphrase (sign_key_passphrase) is wrong or missing"
        ) from None
    if not isinstance(key, PrivateKey):
        raise ValueError("must be an RSA or EC key (what S/MIME signing supports)")
    return key


class SmimeOptions(ConnectorOptions):
    """S/MIME: encrypt for every ``recipient_certificates`` entry, optionally sign first.

    Certificates and keys are PEM text, usually read with ``${file:PATH}``; one entry may hold
    several certificates. ``sign_key`` must be a secret reference.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    recipient_certificates: list[str] = Field(min_length=1)
    sign_certificate: str | None = None
    sign_key: SecretStr | None = None
    sign_key_passphrase: SecretStr | None = None
    content_encryption: Literal["aes256", "aes128"] = "aes256"

    @field_validator("recipient_certificates")
    @classmethod
    def _recipients_are_rsa_certificates(cls, value: list[str]) -> list[str]:
        for index, pem in enumerate(value):
            try:
                certificates = load_certificates(pem)
            except ValueError as exc:
                raise FieldValueError(str(exc), index) from None
            for certificate in certificates:
                # PKCS#7 enveloped data as `cryptography` builds it: RSA key transport only.
                if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
                    raise FieldValueError("S/MIME encryption needs RSA certificates", index)
        return value

    @model_validator(mode="after")
    def _signing_is_complete(self) -> SmimeOptions:
        if (self.sign_certificate is None) != (self.sign_key is None):
            raise ValueError("sign_certificate and sign_key go together")
        if self.sign_key_passphrase is not None and self.sign_key is None:
            raise ValueError("sign_key_passphrase without sign_key has no effect")
        self.signer()
        return self

    def recipients(self) -> list[x509.Certificate]:
        return [cert for pem in self.recipient_certificates for cert in load_certificates(pem)]

    def signer(self) -> tuple[x509.Certificate, PrivateKey] | None:
        """The signing certificate and its key, checked to belong together; None to not sign."""
        if self.sign_certificate is None or self.sign_key is None:
            return None
        try:
            certificate = load_certificates(self.sign_certificate)[0]
        except ValueError as exc:
            raise FieldValueError(str(exc), "sign_certificate") from None
        passphrase = self.sign_key_passphrase
        try:
            key = load_private_key(
                self.sign_key.get_secret_value(),
                passphrase.get_secret_value() if passphrase else None,
            )
        except ValueError as exc:
            raise FieldValueError(str(exc), "sign_key") from None
        if key.public_key() != certificate.public_key():
            raise FieldValueError("does not belong to sign_certificate", "sign_key")
        return certificate, key


class SmtpOptions(ConnectorOptions):
    """Options of the ``smtp`` connector.

    ``security`` is ``starttls`` (default, port 587), ``tls`` (implicit TLS, port 465) or ``none``
    (port 25, only with ``allow_insecure: true``). ``ca_file`` (relative to the data directory)
    replaces the public CAs for checking the server's certificate. ``subject`` may use
    ``{service_name}``, ``{reference}`` and ``{application_id}``.
    """

    # Validation errors must not quote passwords or keys back into logs and CLI output.
    model_config = ConfigDict(hide_input_in_errors=True)

    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    allow_insecure: bool = False
    ca_file: Path | None = None
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password: SecretStr | None = None
    helo_name: str | None = Field(default=None, min_length=1, max_length=253)
    sender: str
    recipients: list[str] = Field(min_length=1, max_length=100)
    subject: str = DEFAULT_SUBJECT
    smime: SmimeOptions | None = None

    @field_validator("host", "helo_name")
    @classmethod
    def _is_a_host_name(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name or address")
        return value

    @field_validator("sender")
    @classmethod
    def _sender_is_an_address(cls, value: str) -> str:
        return check_address(value)

    @field_validator("recipients")
    @classmethod
    def _recipients_are_addresses(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for index, address in enumerate(value):
            try:
                check_address(address)
            except ValueError as exc:
                raise FieldValueError(str(exc), index) from None
            if address.lower() in seen:
                raise FieldValueError(f"{address!r} is listed twice", index)
            seen.add(address.lower())
        return value

    @field_validator("subject")
    @classmethod
    def _subject_uses_known_fields(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\x00"):
            raise ValueError("must be one line")
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise ValueError(
                f"is not a valid template ({exc}); write {{{{ for a literal {{"
            ) from None
        for name in fields:
            if name not in SUBJECT_FIELDS:
                known = ", ".join(f"{{{field}}}" for field in SUBJECT_FIELDS)
                raise ValueError(f"unknown placeholder {{{name}}} (known: {known})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SmtpOptions:
        if self.security == "none" and not self.allow_insecure:
            raise ValueError(
                "security: none sends applications unencrypted; "
                "it needs allow_insecure: true (or use starttls or tls)"
            )
        if self.allow_insecure and self.security != "none":
            raise ValueError("allow_insecure only goes with security: none; remove it")
        if self.ca_file is not None and self.security == "none":
            raise ValueError("ca_file has no effect with security: none; remove one of them")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self

    def server_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    def warnings(self, now: datetime | None = None) -> list[tuple[tuple[str | int, ...], str]]:
        """Allowed but risky choices, for ``config validate`` (see `Connector.option_warnings`)."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        if self.security == "none":
            found.append(
                (
                    ("security",),
                    "security: none sends every application without transport encryption"
                    + ("" if self.smime else " and readable (no smime)")
                    + "; use starttls or tls",
                )
            )
            if self.password is not None:
                found.append((("password",), "is sent in clear text (security: none)"))
        if self.smime is not None:
            moment = now or datetime.now(UTC)
            for index, pem in enumerate(self.smime.recipient_certificates):
                for certificate in load_certificates(pem):
                    if certificate.not_valid_after_utc < moment:
                        expired = certificate.not_valid_after_utc.date().isoformat()
                        found.append(
                            (
                                ("smime", "recipient_certificates", index),
                                f"certificate expired on {expired}; recipients may refuse it",
                            )
                        )
        return found
