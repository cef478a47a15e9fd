"""Plain data passed into and out of the repository (no SQLAlchemy types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, RegionRef
from ozgbridge.ids import new_id
from ozgbridge.status_rules import StatusReport

if TYPE_CHECKING:  # only a type: the store does not depend on routing at run time
    from ozgbridge.routing import Resolution


@dataclass(frozen=True)
class NewAttachment:
    id: str
    filename: str
    mime_type: str
    purpose: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class NewApplication:
    """A routed application ready to be stored together with its delivery."""

    id: str
    delivery_id: str
    tenant_id: str
    route_id: str
    connector: str
    routing_reason: str
    leika_key: str
    service_name: str | None
    region: RegionRef
    reference: str | None
    submitted_by: str
    data_mime_type: str
    data_schema_uri: str | None
    data: bytes = field(repr=False)
    attachments: tuple[NewAttachment, ...] = ()
    first_attempt_delay: float = 0.0
    # The submitting portal key has `events` configured: its outbox gets this one's news.
    portal_events: bool = False

    @classmethod
    def routed(
        cls,
        resolution: Resolution,
        *,
        leika_key: str,
        service_name: str | None,
        region: RegionRef,
        reference: str | None,
        submitted_by: str,
        data_mime_type: str,
        data_schema_uri: str | None,
        data: bytes,
        attachments: tuple[NewAttachment, ...] = (),
        portal_events: bool = False,
    ) -> NewApplication:
        """A new application for the route routing chose, whatever channel it came in by."""
        route = resolution.route
        return cls(
            id=new_id(),
            delivery_id=new_id(),
            tenant_id=resolution.tenant.id,
            route_id=route.id,
            connector=route.connector,
            routing_reason=resolution.reason,
            leika_key=leika_key,
            service_name=service_name,
            region=region,
            reference=reference,
            submitted_by=submitted_by,
            data_mime_type=data_mime_type,
            data_schema_uri=data_schema_uri,
            data=data,
            attachments=attachments,
            # The ladder's first step may ask for a pause before the first attempt, too.
            first_attempt_delay=route.retry_schedule[0] if route.retry_schedule else 0.0,
            portal_events=portal_events,
        )


@dataclass(frozen=True)
class IdempotencyRecord:
    """The answer given to (api key, Idempotency-Key), replayed for the same request body.

    ``api_key_id`` is an API key's id, or an intake plug-in's actor (``kind:…``, never a key id:
    those are slugs). A plug-in's records are kept as long as their application — see
    `PLUGIN_OWNER_MARK` — because they are how it recognises a submission it fetches again.
    """

    api_key_id: str
    key: str
    request_sha256: str
    response_status: int
    response_body: str


@dataclass(frozen=True)
class DeliveryView:
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
    last_response: str | None = None  # the last recorded attempt's `response_excerpt`


@dataclass(frozen=True)
class ApplicationView:
    id: str
    tenant_id: str
    leika_key: str
    service_name: str | None
    ars: str
    ags: str
    reference: str | None
    submitted_by: str
    status: ApplicationStatus
    received_at: datetime
    updated_at: datetime
    data_mime_type: str
    data_size: int
    attachment_count: int
    deliveries: tuple[DeliveryView, ...]
    content_purged_at: datetime | None = None  # retention deleted form data and attachments
    processing_status: str | None = None  # the authority's latest report, see status_rules


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this worker holds under a lease, about to make attempt number ``attempt``."""

    id: str
    application_id: str
    tenant_id: str
    route_id: str
    connector: str
    attempt: int
    lease_expires_at: datetime
    rung: int  # this attempt's position on the retry ladder (1 = first since the ladder began)
    probe: bool = False  # the one delivery a half-open circuit breaker let through


@dataclass(frozen=True)
class AttemptResult:
    outcome: AttemptOutcome
    started_at: datetime
    status_code: int | None = None
    error: str | None = None
    remote_reference: str | None = None
    retry_at: datetime | None = None  # for a failure: when to try again; None = dead
    # A failed breaker probe is part of waiting on an open route: its rung is given back.
    keeps_rung: bool = False
    # False when the attempt says nothing about the back-end (the worker shut down mid-attempt,
    # the route is not configured): the circuit breaker ignores it.
    evidence: bool = True
    # The start of the back-end's error answer: stored, shown through the API, never logged.
    response_excerpt: str | None = field(default=None, repr=False)
    # A success whose answer also reported a processing status (it may hold a note: no repr).
    status_report: StatusReport | None = field(default=None, repr=False)


# In an idempotency record's owner, the mark of an intake plug-in's actor (``fitconnect:…``; API
# key ids are slugs and never hold it). Retention keeps such records as long as their application:
# FIT-Connect lists a submission until its ``accept-submission`` arrives, which can be days after
# it was stored (the Zustelldienst unreachable meanwhile), and a purged record would make the next
# round store it a second time.
PLUGIN_OWNER_MARK = ":"
