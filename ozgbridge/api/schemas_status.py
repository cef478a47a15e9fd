"""Bodies of the status back-channel: reporting a status, forwarding, lists, portal events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from ozgbridge.api.schemas import PlainText, RegionIn
from ozgbridge.domain import ApplicationStatus, CamelModel, RegionRef, ServiceRef
from ozgbridge.status_rules import (
    MAX_FILE_REFERENCE_CHARS,
    MAX_NOTE_CHARS,
    ProcessingStatus,
    StatusReport,
    note_problem,
)


def _note(value: str) -> str:
    problem = note_problem(value)
    if problem is not None:
        raise PydanticCustomError("note", problem)
    return value


NoteText = Annotated[
    str,
    AfterValidator(_note),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_NOTE_CHARS,
            "description": "text for the applicant; line breaks allowed, no other control "
            "characters. Personal data: stored and shown, never logged or audited",
        }
    ),
]


class StatusIn(CamelModel):
    """A processing status reported by the authority the application is with.

    Codes: confirmed (Eingang bestätigt), in_progress, information_required (Rückfrage,
    Nachforderung), completed (beschieden, abgeschlossen), rejected, withdrawn, not_responsible
    (Unzuständigkeit: ozgbridge forwards it). The http connector's back-end may answer a delivery
    with the same document in its 2xx body.
    """

    status: ProcessingStatus
    note: NoteText | None = Field(default=None, min_length=1)
    file_reference: PlainText | None = Field(
        default=None, min_length=1, max_length=MAX_FILE_REFERENCE_CHARS, description="Aktenzeichen"
    )
    forward_to: RegionIn | None = Field(
        default=None,
        description="only with not_responsible: the region whose responsible authority gets it; "
        "without, routing looks again, passing over every authority that already had it",
    )

    @model_validator(mode="after")
    def _forward_only_when_not_responsible(self) -> StatusIn:
        if self.forward_to is not None and self.status is not ProcessingStatus.NOT_RESPONSIBLE:
            raise PydanticCustomError("forward_to", "forwardTo is only for status not_responsible")
        return self

    def to_report(self) -> StatusReport:
        return StatusReport(
            status=self.status,
            note=self.note,
            file_reference=self.file_reference,
            forward_to=self.forward_to.to_ref() if self.forward_to else None,
        )


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
    state: str = Field(description="pending, leased (being sent), delivered or dead")
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    delivered_at: datetime | None


class PortalEventListOut(CamelModel):
    items: list[PortalEventOut]
    next: str | None = Field(description="pass as `before` for the next page; null at the end")
