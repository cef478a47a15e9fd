"""The events a portal receives about the applications it submitted, and their JSON bodies.

Every event is ``{"type", "id", "applicationId", "reference", "occurredAt", "data"}``; ``id`` is
also the ``webhook-id`` header, so a portal drops a repeat it has seen (delivery is at least
once). The models below are the OpenAPI document's schemas for them (under ``webhooks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from ozgbridge.domain import CamelModel


class EventState(StrEnum):
    """Where an event stands in the outbox (the delivery queue's words, its own values).

    ``delivering``: a worker holds it under a lease and is sending it right now.
    """

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"


class EventType(StrEnum):
    DELIVERED = "application.delivered"
    DEAD = "application.dead"
    STATUS = "application.status"
    FORWARDED = "application.forwarded"


class DeliveredData(CamelModel):
    tenant: str = Field(description="the tenant (authority) whose back-end has the application")
    delivery_id: str
    delivered_at: datetime


class DeadData(CamelModel):
    tenant: str = Field(description="the tenant it could not be delivered to")
    delivery_id: str
    attempts: int = Field(description="attempts made before ozgbridge gave up")


class StatusData(CamelModel):
    status: str = Field(description="the processing status code (see StatusIn)")
    note: str | None = Field(
        default=None, description="text for the applicant from the authority (personal data)"
    )
    file_reference: str | None = Field(default=None, description="the authority's Aktenzeichen")
    tenant: str = Field(description="the tenant the application was with when this was reported")


class ForwardedData(CamelModel):
    from_: str = Field(alias="from", description="the tenant that reported not_responsible")
    to: str = Field(description="the tenant the application was forwarded to")


class _Event(CamelModel):
    id: str = Field(description="event id, equal to the webhook-id header")
    application_id: str
    reference: str | None = Field(description="the portal's own case number, as submitted")
    occurred_at: datetime


class ApplicationDeliveredEvent(_Event):
    """The responsible authority's back-end has the application."""

    type: Literal["application.delivered"] = "application.delivered"
    data: DeliveredData


class ApplicationDeadEvent(_Event):
    """ozgbridge gave up delivering it (retries exhausted or refused); operators see it."""

    type: Literal["application.dead"] = "application.dead"
    data: DeadData


class ApplicationStatusEvent(_Event):
    """The authority reported a processing status."""

    type: Literal["application.status"] = "application.status"
    data: StatusData


class ApplicationForwardedEvent(_Event):
    """The authority was not responsible; the application went on to another one."""

    type: Literal["application.forwarded"] = "application.forwarded"
    data: ForwardedData


EVENT_MODELS: dict[EventType, type[_Event]] = {
    EventType.DELIVERED: ApplicationDeliveredEvent,
    EventType.DEAD: ApplicationDeadEvent,
    EventType.STATUS: ApplicationStatusEvent,
    EventType.FORWARDED: ApplicationForwardedEvent,
}


@dataclass(frozen=True)
class NewEvent:
    """An event to put in the outbox of portal key ``key_id``."""

    id: str
    type: EventType
    application_id: str
    key_id: str
    reference: str | None
    occurred_at: datetime
    data: dict[str, Any]

    def body(self) -> str:
        """The exact JSON sent (validated against the event's model, so it matches the docs)."""
        model = EVENT_MODELS[self.type].model_validate(
            {
                "id": self.id,
                "applicationId": self.application_id,
                "reference": self.reference,
                "occurredAt": self.occurred_at,
                "data": self.data,
            }
        )
        return model.model_dump_json(by_alias=True)
