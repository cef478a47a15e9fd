"""Request and response bodies of the operations API (deliveries and routes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ozgbridge.api.schemas import PlainText
from ozgbridge.api.schemas_formats import INSTANT, INSTANT_SCHEMA, is_count
from ozgbridge.domain import CamelModel, DeliveryState, LeikaKey, RouteState
from ozgbridge.tenant_models import Slug

MAX_PAGE = 500
DEFAULT_PAGE = 50


_LAX_DATETIME = TypeAdapter(datetime)


def _instant(value: Any) -> Any:
    """Only the documented spelling, parsed here so that a strictly validated body takes it too:
    pydantic alone would also take Unix seconds, "2026-10-01T10:00" and numbers in a JSON body."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not INSTANT.fullmatch(value):
        raise PydanticCustomError(
            "instant", "is not an RFC 3339 date-time (e.g. 2026-10-01T08:00:00Z) or a day"
        )
    try:
        parsed = _LAX_DATETIME.validate_python(value)
    except ValidationError:  # 2026-02-30
        raise PydanticCustomError("instant", "names no real day or time") from None
    # A time without a zone is read as UTC, the zone of everything ozgbridge stores.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is after the last UTC instant Python has
        raise PydanticCustomError("instant", "is out of range in UTC") from None


Instant = Annotated[datetime, BeforeValidator(_instant), WithJsonSchema(INSTANT_SCHEMA)]


# --- queries and requests ---------------------------------------------------------------------


class DeliveryQuery(CamelModel):
    """``GET /v1/deliveries`` query parameters."""

    state: DeliveryState | None = None
    tenant: Slug | None = None
    route: Slug | None = None
    service: LeikaKey | None = None
    since: Instant | None = Field(default=None, description="created at or after (RFC 3339)")
    until: Instant | None = Field(default=None, description="created before (RFC 3339)")
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=200)

    @field_validator("limit", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Any:
        # A query's digits only: pydantic would take " 5", "+5", "5.0" and "1_0" too.
        if isinstance(value, str) and not is_count(value):
            raise PydanticCustomError("count", "must be a whole number written in digits")
        return value


class ReplayIn(CamelModel):
    force: bool = Field(default=False, description="replay a delivered delivery too")


class BulkFilterIn(CamelModel):
    state: Literal["dead", "cancelled"] = "dead"
    tenant: Slug | None = None
    route: Slug | None = None
    service: LeikaKey | None = None
    since: Instant | None = None
    until: Instant | None = None


class BulkReplayIn(CamelModel):
    filter: BulkFilterIn = Field(default_factory=BulkFilterIn)
    dry_run: bool = Field(default=False, description="only count what would be replayed")


class CancelIn(CamelModel):
    reason: PlainText = Field(
        min_length=1,
        max_length=500,
        description="why; kept with the delivery, the audit log gets only its SHA-256",
    )


class RouteActionIn(CamelModel):
    reason: PlainText | None = Field(
        default=None,
        max_length=500,
        description="why; kept in the route's history, the audit log gets only its SHA-256",
    )


# --- responses ----------------------------------------------------------------------------------


class DeliveryItemOut(CamelModel):
    id: str
    application_id: str
    tenant: str
    route: str
    connector: str
    service: str = Field(description="LeiKa key of the application")
    state: DeliveryState
    attempts: int = Field(description="attempts made so far (numbering continues after a replay)")
    last_error: str | None
    last_status_code: int | None
    next_attempt_at: datetime | None = Field(description="while pending or delivering")
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None


class DeliveryPageOut(CamelModel):
    items: list[DeliveryItemOut]
    next: str | None = Field(description="cursor of the next (older) page; null on the last")


class AttemptOut(CamelModel):
    number: int
    started_at: datetime
    duration_ms: int
    outcome: Literal["delivered", "retriable", "permanent"]
    status_code: int | None
    error: str | None
    response_excerpt: str | None = Field(
        default=None, description="the start of the back-end's error answer (at most 1 KB)"
    )


class DeliveryDetailOut(CamelModel):
    id: str
    application_id: str
    tenant: str
    route: str
    connector: str
    service: str
    state: DeliveryState
    attempt_count: int
    ladder_rung: int = Field(description="attempts since the retry ladder (re)started")
    last_error: str | None
    last_status_code: int | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None = Field(description="when the current ladder began")
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    remote_reference: str | None
    attempts: list[AttemptOut]


class ReplayedOut(CamelModel):
    id: str
    state: Literal["pending"] = "pending"


class BulkReplayOut(CamelModel):
    matched: int
    replayed: int


class RouteOut(CamelModel):
    tenant: str
    route: str
    connector: str
    state: RouteState
    pending: int
    delivering: int
    dead: int
    cancelled: int
    oldest_pending_seconds: float | None = Field(
        description="age of the oldest unfinished delivery (since its ladder began)"
    )
    last_success_at: datetime | None
    last_failure_at: datetime | None
    consecutive_failures: int
    open_until: datetime | None = Field(description="while open: when the next probe may go")
    max_in_flight: int | None
    rate_limit: float | None = Field(description="attempts per second, across all workers")


class RouteTestOut(CamelModel):
    ok: bool
    status_code: int | None
    duration_ms: int
    error: str | None
