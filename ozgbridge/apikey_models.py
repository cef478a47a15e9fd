"""The models of ``keys.yaml``: API keys, their roles, rotated tokens and portal events.

Import them from `ozgbridge.tenants`, which also loads them. Kept apart from the tenant and route
models (`ozgbridge.tenant_models`) because they describe who may call ozgbridge, not where
applications go; what a key's lifetime means (expiry warnings, rotation) is `ozgbridge.apikeys`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    NonNegativeFloat,
    PositiveFloat,
    SecretStr,
    model_validator,
)

from ozgbridge.configfile import FieldValueError
from ozgbridge.tenant_models import ConfigModel, Slug

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _sha256_hex(value: str) -> str:
    if not _SHA256_HEX.fullmatch(value):
        raise ValueError("must be a SHA-256 hash: 64 lowercase hexadecimal digits")
    return value


def _expiry(value: Any) -> Any:
    # YAML reads 2026-12-31 as a date: the key stops working when that day begins (UTC).
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(
            "give a time zone, e.g. 2026-12-31T00:00:00Z or 2026-12-31T00:00:00+01:00, or a date"
        )
    return value


Expiry = Annotated[AwareDatetime, BeforeValidator(_expiry)]
Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]


class Role(StrEnum):
    """What an API key may do: submit (portal), see its own tenant, see reports, operate, or
    only read the Prometheus metrics (metrics)."""

    PORTAL = "portal"
    TENANT = "tenant"
    COORDINATOR = "coordinator"
    OPERATOR = "operator"
    METRICS = "metrics"


class PreviousToken(ConfigModel):
    """A key's replaced token (see ``ozgbridge keys rotate``): works until ``expires``."""

    sha256: Sha256Hex
    expires: Expiry


class PortalEvents(ConfigModel):
    """Where a portal key's events go: POSTed as JSON, signed per Standard Webhooks.

    The options mean what the ``http`` connector's options of the same name mean (and are
    checked by it when the configuration loads); ``signing_secret`` must be a reference.
    """

    # Validation errors must not quote a secret back into logs and CLI output.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: HttpUrl
    signing_secret: SecretStr | list[SecretStr]
    verify_tls: bool = True
    ca_file: Path | None = None
    # As for a route: the wait before each attempt (default: the Standard Webhooks ladder) and
    # the seconds an attempt may take (default: OZGBRIDGE_DELIVERY_TIMEOUT).
    retry_schedule: list[NonNegativeFloat] | None = Field(default=None, min_length=1)
    timeout: PositiveFloat | None = None

    def connector_options(self) -> dict[str, Any]:
        """These settings as ``http`` connector options (secrets revealed: handle with care)."""
        secrets = (
            self.signing_secret if isinstance(self.signing_secret, list) else [self.signing_secret]
        )
        options: dict[str, Any] = {
            "url": str(self.url),
            "signing_secret": [s.get_secret_value() for s in secrets],
            "verify_tls": self.verify_tls,
        }
        if self.ca_file is not None:
            options["ca_file"] = self.ca_file
        return options


class ApiKey(ConfigModel):
    """An API key, stored only as the SHA-256 of its token. ``demo`` keys are logged when used.

    ``expires`` ends the key (a date: at 00:00 UTC that day); ``previous`` holds tokens replaced
    by a rotation, each working until its own ``expires`` (and never past the key's).
    A portal key may carry ``events``: ozgbridge then sends it events about the applications it
    submits (see ozgbridge.events).
    """

    id: Slug
    role: Role
    tenant: Slug | None = None
    sha256: Sha256Hex
    demo: bool = False
    expires: Expiry | None = None
    previous: list[PreviousToken] = Field(default_factory=list)

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every token hash that authenticates as this key: the current one first."""
        return (self.sha256, *(p.sha256 for p in self.previous))

    def token_expires(self, sha256_hex: str) -> datetime | None:
        """When the token hashing to ``sha256_hex`` stops working (None: it does not expire)."""
        if sha256_hex == self.sha256:
            return self.expires
        for previous in self.previous:
            if previous.sha256 == sha256_hex:
                if self.expires is None:
                    return previous.expires
                return min(previous.expires, self.expires)
        return None

    events: PortalEvents | None = None

    @model_validator(mode="after")
    def _events_only_for_portals(self) -> ApiKey:
        if self.events is not None and self.role is not Role.PORTAL:
            raise FieldValueError(
                f"only portal keys receive events (this one is {self.role})", "events"
            )
        return self

    @model_validator(mode="after")
    def _tenant_matches_role(self) -> ApiKey:
        if self.role is Role.TENANT and self.tenant is None:
            raise FieldValueError("a key with role 'tenant' must name its tenant", "tenant")
        if self.role is not Role.TENANT and self.tenant is not None:
            raise FieldValueError(
                f"only keys with role 'tenant' belong to a tenant (this one is {self.role})",
                "tenant",
            )
        return self


def token_sha256(token: str) -> str:
    """The hash under which an API key's token is stored in ``keys.yaml``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
