"""The ``http`` connector's options, checked when the configuration loads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, HttpUrl, SecretStr, field_validator, model_validator

from connectors._signing import decode_secret
from ozgbridge.connector import ConnectorOptions

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "transfer-encoding", "host", "connection", "user-agent"}
    | {"idempotency-key"}
)


class HttpOptions(ConnectorOptions):
    """Options of the ``http`` connector.

    ``signing_secret`` is one ``whsec_<base64>`` secret or a list of them (rotation: one
    signature each). ``headers`` are extra static headers such as an API key; their values are
    treated as secrets. ``ca_file`` (relative to the data directory) replaces the public CAs.
    """

    # Validation errors must not quote secrets or header values back into logs and CLI output.
    model_config = ConfigDict(hide_input_in_errors=True)

    url: HttpUrl
    signing_secret: SecretStr | list[SecretStr] | None = None
    format: Literal["json", "multipart"] = "json"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    verify_tls: bool = True
    ca_file: Path | None = None

    @field_validator("signing_secret")
    @classmethod
    def _secrets_are_whsec(
        cls, value: SecretStr | list[SecretStr] | None
    ) -> SecretStr | list[SecretStr] | None:
        if isinstance(value, list) and not value:
            raise ValueError("an empty list signs nothing; leave signing_secret out instead")
        secrets = _as_list(value)
        for number, secret in enumerate(secrets, start=1):
            try:
                decode_secret(secret)
            except ValueError as exc:
                if len(secrets) == 1:
                    raise
                raise ValueError(f"secret {number} of {len(secrets)}: {exc}") from None
        return value

    @field_validator("headers")
    @classmethod
    def _headers_are_static_extras(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        seen: set[str] = set()
        for name, header_value in value.items():
            lowered = name.lower()
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if lowered in _RESERVED_HEADERS or lowered.startswith("webhook-"):
                raise ValueError(f"header {name!r} is set by the connector itself")
            if lowered in seen:
                raise ValueError(f"header {name!r} is given twice")
            seen.add(lowered)
            if not _HEADER_VALUE.fullmatch(header_value.get_secret_value()):
                raise ValueError(f"the value of header {name!r} must be printable ASCII")
        return value

    @model_validator(mode="after")
    def _ca_file_needs_verification(self) -> HttpOptions:
        if self.ca_file is not None and not self.verify_tls:
            raise ValueError("ca_file has no effect with verify_tls: false; remove one of them")
        return self

    def signing_keys(self) -> tuple[bytes, ...]:
        """The HMAC keys, current one first as configured."""
        return tuple(decode_secret(secret) for secret in _as_list(self.signing_secret))


def _as_list(value: SecretStr | list[SecretStr] | None) -> list[SecretStr]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
