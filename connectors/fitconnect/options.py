"""The ``fitconnect`` connector's options, checked when the configuration loads."""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict, Field, HttpUrl, SecretStr, model_validator

from connectors.fitconnect.metadata import SHIPPED_VERSIONS
from ozgbridge.connector import ConnectorOptions

METADATA_VERSIONS = SHIPPED_VERSIONS


class FitConnectOptions(ConnectorOptions):
    """Options of the ``fitconnect`` connector (a FIT-Connect *sender*).

    The URLs are those of the FIT-Connect environment (test or production) as FITKO publishes
    them. ``destination_id`` fixes the Zustellpunkt; without it the Routing API
    (``routing_api_url``) is asked per (LeiKa key, ARS). ``production`` turns on the checks a
    production Zustelldienst demands of encryption keys (an ``x5c`` certificate chain up to one of
    ``trusted_certificates``, PEM). The metadata version is the newest one both the
    destination (``metadataVersions``) and this package know, unless ``metadata_version`` pins
    one. A looked-up destination is trusted only if its ``destinationSignature`` verifies with
    the Self-Service-Portal's JWKS (``routing_jwks_url``).
    """

    # Validation errors must not quote the client secret back into logs and CLI output.
    model_config = ConfigDict(hide_input_in_errors=True)

    submission_api_url: HttpUrl
    token_url: HttpUrl
    routing_api_url: HttpUrl | None = None
    routing_jwks_url: HttpUrl | None = None
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: SecretStr
    destination_id: UUID | None = None
    metadata_version: str | None = None
    production: bool = False
    trusted_certificates: SecretStr | None = None
    reply_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    callback_url: HttpUrl | None = None
    callback_secret: SecretStr | None = None
    routing_cache_seconds: float = Field(default=3600.0, ge=0)
    # How often the case event logs of sent submissions are read (callbacks trigger it early).
    status_poll_interval: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> FitConnectOptions:
        if self.metadata_version is not None and self.metadata_version not in METADATA_VERSIONS:
            shipped = ", ".join(METADATA_VERSIONS)
            raise ValueError(
                f"metadata_version {self.metadata_version!r} is not shipped (known: {shipped})"
            )
        if self.destination_id is None and self.routing_api_url is None:
            raise ValueError("give destination_id, or routing_api_url to find the destination")
        if self.routing_api_url is not None and self.routing_jwks_url is None:
            raise ValueError(
                "routing_api_url needs routing_jwks_url (the JWKS that signs destinationSignature)"
            )
        if (self.callback_url is None) != (self.callback_secret is None):
            raise ValueError("callback_url and callback_secret go together")
        if self.production and self.trusted_certificates is None:
            raise ValueError("production: true needs trusted_certificates to check key chains")
        return self

    def submission_api(self) -> str:
        return str(self.submission_api_url).rstrip("/")

    def routing_api(self) -> str | None:
        return str(self.routing_api_url).rstrip("/") if self.routing_api_url else None
