"""Process settings, from ``OZGBRIDGE_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ozgbridge.egress import parse_networks


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OZGBRIDGE_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/ozgbridge.sqlite3",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///FILE or postgresql+asyncpg://…",
    )
    config_dir: Path = Field(default=Path("config"), description="tenants/*.yaml and keys.yaml")
    data_dir: Path = Field(default=Path("var"), description="base for relative connector paths")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    api_processes: int = Field(
        default=1,
        ge=1,
        description="`ozgbridge api` processes sharing host:port (SO_REUSEPORT), one per core",
    )
    public_url: str | None = Field(
        default=None, description="base URL for links in answers; default: from the request"
    )

    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    max_attachments: int = Field(default=100, ge=0)

    # Hardening (README "Security"): connection limits, memory budgets, egress.
    header_timeout: float = Field(
        default=20.0, gt=0, description="seconds for a request's head (line and headers)"
    )
    body_timeout: float = Field(
        default=20.0, gt=0, description="seconds for a body, extended by body_min_rate"
    )
    body_min_rate: float = Field(
        default=500.0, gt=0, description="bytes received that extend the body timeout by 1 s"
    )
    keepalive_timeout: float = Field(
        default=30.0, gt=0, description="idle seconds before a keep-alive connection is closed"
    )
    max_connections: int = Field(
        default=1000, ge=1, description="open connections per API process; more get 503"
    )
    intake_memory_budget: int = Field(
        default=128 * 1024 * 1024,
        ge=1024 * 1024,
        description="bytes of submissions an API process holds in memory at once",
    )
    intake_budget_wait: float = Field(
        default=10.0, ge=0, description="seconds a submission waits for budget before 503"
    )
    worker_payload_budget: int = Field(
        default=64 * 1024 * 1024,
        ge=1024 * 1024,
        description="bytes of application content a worker process holds for deliveries",
    )
    spool_dir: Path | None = Field(
        default=None, description="where large bodies wait, encrypted; default: the temp dir"
    )
    audit_key: Path | None = Field(
        default=None, description="file of HMAC keys chaining the audit log (a secret)"
    )
    audit_unkeyed: bool = Field(
        default=False, description="allow chaining the audit log with plain SHA-256 (warned)"
    )
    audit_checkpoint_interval: float = Field(
        default=3600.0, gt=0, description="seconds between audit.checkpoint log lines"
    )
    connector_allowed_networks: Annotated[list[IPv4Network | IPv6Network] | None, NoDecode] = Field(
        default=None, description="CIDRs deliveries may connect to; unset: anywhere"
    )

    delivery_timeout: float = Field(default=30.0, gt=0, description="seconds per attempt")
    lease_seconds: float = Field(default=120.0, gt=0, description="> delivery_timeout")
    # Attempts running at once per worker. Claims and outcome writes are batched over them, and a
    # claim-load-write round costs about twenty round trips whatever its size, so a deeper window
    # costs the database fewer transactions per delivery: 128 delivered ~8 % more per second than
    # 64 on PostgreSQL (README: Benchmarks). A back-end that needs fewer parallel requests sets its
    # route's max_in_flight.
    worker_concurrency: int = Field(default=128, ge=1)
    poll_interval: float = Field(default=1.0, gt=0, description="idle wait between claims")
    shutdown_grace: float = Field(default=30.0, ge=0, description="wait for in-flight on SIGTERM")
    pg_notify: bool = Field(
        default=True,
        description="PostgreSQL LISTEN/NOTIFY wake-ups; off behind PgBouncer (transaction mode)",
    )
    retry_jitter: float = Field(default=0.1, ge=0, le=0.5)

    data_keys: Path | None = Field(
        default=None,
        description="YAML file of AES-256 keys sealing form data and attachments (a secret, "
        "e.g. /run/secrets/ozgbridge-data-keys.yaml); the first seals, all open",
    )
    allow_plaintext: bool = Field(
        default=False,
        description="run without data keys, storing content unencrypted (warned at every start)",
    )
    retention_delivered_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="keep a delivered application's content (0: purge asap)",
    )
    retention_dead_days: int = Field(
        default=30, ge=0, le=3650, description="keep a dead application's content (0: purge asap)"
    )
    purge_interval: float = Field(default=600.0, gt=0, description="seconds between purge runs")
    purge_batch: int = Field(
        default=500, ge=1, le=10_000, description="applications per purge transaction"
    )
    idempotency_window_hours: float = Field(
        default=24.0, gt=0, description="how long an Idempotency-Key answer is replayed"
    )
    key_usage_flush_seconds: float = Field(
        default=60.0, gt=0, description="how often API processes write API keys' last use"
    )

    ui_session_secret: SecretStr | None = Field(
        default=None,
        description="key that signs dashboard session cookies (32+ random bytes); unset: a "
        "random one per process, so sessions end on restart and do not span processes",
    )
    ui_session_seconds: int = Field(
        default=8 * 3600, ge=60, description="dashboard sign-in lifetime"
    )
    ui_cookie_secure: bool = Field(
        default=False, description="mark the dashboard cookie Secure (set when served over https)"
    )

    # Sign-in throttling and client addresses (README "Security": sign-in and sessions).
    ui_sign_in_limit: int = Field(
        default=10,
        ge=1,
        description="failed dashboard sign-ins per client address (and per "
        "token prefix) within ui_sign_in_window; more get 429",
    )
    ui_sign_in_window: float = Field(
        default=300.0, gt=0, description="seconds over which failed sign-ins are counted"
    )
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose X-Forwarded-For names the client; "
        "empty: the peer is the client",
    )

    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="worker processes serve Prometheus /metrics at this port; off if unset",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="address of the worker metrics listener (0.0.0.0 in a container)",
    )
    config_watch_seconds: float = Field(
        default=0,
        ge=0,
        description="look for changed configuration files and changed data or audit key files "
        "this often and reload (0: only on SIGHUP or POST /v1/admin/reload); for Kubernetes "
        "ConfigMap and Secret volumes",
    )

    log_level: str = "INFO"
    log_format: str = Field(
        default="auto",
        pattern="^(auto|json|console)$",
        description="auto: console on a terminal, JSON lines otherwise",
    )

    @field_validator("connector_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        """A comma-separated list of CIDRs (``10.20.0.0/16, 2001:db8::/32``) or a list."""
        if isinstance(value, str):
            return list(parse_networks(value))
        if isinstance(value, list):
            return list(parse_networks(",".join(str(item) for item in value)))
        return value

    @model_validator(mode="after")
    def _budgets_fit_a_request(self) -> Settings:
        if self.intake_memory_budget < self.max_body_bytes:
            raise ValueError(
                f"intake_memory_budget ({self.intake_memory_budget}) must be at least "
                f"max_body_bytes ({self.max_body_bytes}), or the largest request never fits"
            )
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: Any) -> Any:
        """A comma-separated list of CIDRs or addresses (``10.0.0.0/8, ::1``), or a list."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            try:
                return [ip_network(str(item), strict=False) for item in value]
            except ValueError as exc:
                raise ValueError(f"not a network (CIDR): {exc}") from None
        return value

    @model_validator(mode="after")
    def _lease_outlives_delivery(self) -> Settings:
        if self.lease_seconds <= self.delivery_timeout:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds:g}) must be longer than delivery_timeout "
                f"({self.delivery_timeout:g}), or a slow delivery would be claimed twice"
            )
        return self
