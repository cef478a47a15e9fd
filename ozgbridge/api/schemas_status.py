"""Bodies of the status back-channel: reporting a status, forwarding, lists, portal events."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ozgbridge.domain import ApplicationStatus, CamelModel, RegionRef, ServiceRef
from ozgbridge.status_document import StatusIn
from ozgbridge.status_rules import ProcessingStatus

__all__ = [
    "ApplicationListOut",
    "ApplicationSummaryOut",
    "PortalEventListOut",
    "PortalEventOut",
    "StatusAcceptedOut",
    "StatusIn",
]


class StatusAcceptedOut(CamelModel):
    id: str = Field(description="the status entry's id")
    status: ProcessingStatus
    application_id: str
    tenant: str = Field(description="the tenant the application is with now (new if forwarded)")
    application_status: ApplicationStatus = Field(
        description="ozgbridge's delivery status now: received when forwarded, unroutable when "
        "no other authority is responsible"
    )


class ApplicationSummaryOut(CamelModel):
    id: str
    status: ApplicationStatus
    processing_status: str | None
    tenant: str
    service: ServiceRef
    region: RegionRef
    received_at: datetime
    updated_at: datetime


class ApplicationListOut(CamelModel):
    items: list[ApplicationSummaryOut]
    next: str | None = Field(description="pass as `before` for the next page; null at the end")


class PortalEventOut(CamelModel):
    """One portal event in the outbox (without its body), as its portal and operators see it."""

    id: str
    type: str
    application_id: str
    key_id: str
    occurred_at: datetime
    state: str = Field(description="pending, delivering (being sent now), delivered or dead")
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    delivered_at: datetime | None


class PortalEventListOut(CamelModel):
    items: list[PortalEventOut]
    next: str | None = Field(description="pass as `before` for the next page; null at the end")
