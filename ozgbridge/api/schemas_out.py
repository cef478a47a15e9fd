"""Response bodies of the HTTP API: the answer to a submission, an application's status, health,
and the problem details (with their field errors) every refusal carries.

Separate from `schemas`, the submission and its validators: answers are built by the service from
what it stored, so they check nothing and change for other reasons than what portals may send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ozgbridge.domain import ApplicationStatus, CamelModel, DeliveryState, RegionRef, ServiceRef


class Links(CamelModel):
    self_: str = Field(alias="self")


class AcceptedOut(CamelModel):
    id: str
    status: ApplicationStatus
    tenant: str
    links: Links


class DeliveryOut(CamelModel):
    id: str
    route_id: str
    connector: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    remote_reference: str | None
    delivered_at: datetime | None
    last_response: str | None = Field(
        default=None,
        description=(
            "the start (at most 1 KB, as text) of the back-end's answer to the last attempt, if "
            "that attempt failed with an answer; it may contain personal data and is never "
            "logged or audited"
        ),
    )


class DataOut(CamelModel):
    mime_type: str
    size: int


class StatusEntryOut(CamelModel):
    """One entry of the status history: what a key, a back-end or FIT-Connect reported."""

    id: str | None = None
    at: datetime
    source: str = Field(
        description="who reported it: key:<api key id>, backend:<tenant>/<route>, or a plug-in "
        "as <kind>:<its id>"
    )
    status: str = Field(description="a processing status code, e.g. confirmed, completed")
    note: str | None = Field(
        default=None,
        description="text for the applicant; personal data, never logged or audited",
    )
    file_reference: str | None = Field(default=None, description="the authority's Aktenzeichen")
    detail: dict[str, Any] = Field(default_factory=dict)


class ForwardedFromOut(CamelModel):
    """A tenant the application was with before it was forwarded (not_responsible)."""

    tenant: str
    at: datetime
    by: str = Field(description="who reported not_responsible (as statusHistory[].source)")


class ApplicationOut(CamelModel):
    """Status of one application; never its form content or attachments."""

    id: str
    status: ApplicationStatus
    tenant: str
    service: ServiceRef
    region: RegionRef
    reference: str | None
    received_at: datetime
    updated_at: datetime
    data: DataOut
    attachment_count: int
    deliveries: list[DeliveryOut]
    processing_status: str | None = Field(
        default=None,
        description=(
            "the authority's latest processing status (confirmed, in_progress, "
            "information_required, completed, rejected, withdrawn, not_responsible), reported "
            "back after delivery; `status` is ozgbridge's own delivery lifecycle"
        ),
    )
    status_history: list[StatusEntryOut] = Field(default_factory=list)
    content_purged_at: datetime | None = Field(
        default=None,
        description=(
            "when retention deleted the form data and attachments; status, times, sizes and "
            "hashes stay, and a purged application can no longer be delivered again"
        ),
    )
    forwarded_from: list[ForwardedFromOut] = Field(
        default_factory=list,
        description="earlier tenants, oldest first; `tenant` is the current one",
    )


class HealthOut(CamelModel):
    status: Literal["ok"] = "ok"


class FieldError(CamelModel):
    field: str = Field(description="where in the request, e.g. attachments[0].filename")
    message: str


class ProblemOut(CamelModel):
    """RFC 9457 problem details (application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
