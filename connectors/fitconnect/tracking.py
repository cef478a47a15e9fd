"""Status of sent submissions: read each open case's event log until the destination decides.

Delivered ``fitconnect`` deliveries are picked up from the deliveries table (their remote
reference names submission and case) into ``fitconnect_submissions``; each round reads the new
events of every open case, verifies them, and turns ``accept-submission`` /
``reject-submission`` into a status history entry. Tokens that do not verify are refused —
logged and audited once each — and never change a status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import and_, exists, select

from connectors.fitconnect.client import FitConnectClient
from connectors.fitconnect.connector import parse_remote_reference
from connectors.fitconnect.events import ACCEPT, EventVerifier, problems_of
from ozgbridge import audit, status
from ozgbridge.domain import DeliveryState, utcnow
from ozgbridge.errors import DeliveryError
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import deliveries, fitconnect_submissions

logger = structlog.get_logger("ozgbridge.connectors.fitconnect.status")

OPEN = "submitted"
RouteKey = tuple[str, str]


@dataclass(frozen=True)
class Sender:
    client: FitConnectClient
    verifier: EventVerifier


async def discover(repository: Repository) -> int:
    """Start tracking every delivered fitconnect delivery not tracked yet; returns how many."""
    table = fitconnect_submissions
    now = utcnow()
    tracked = exists().where(
        and_(table.c.application_id == deliveries.c.application_id, table.c.direction == "out")
    )
    async with repository.engine.begin() as conn:
        rows = (
            await conn.execute(
                select(deliveries.c.application_id, deliveries.c.remote_reference).where(
                    deliveries.c.connector == "fitconnect",
                    deliveries.c.state == DeliveryState.DELIVERED,
                    ~tracked,
                )
            )
        ).all()
        added = 0
        for row in rows:
            parsed = parse_remote_reference(row.remote_reference or "")
            if parsed is None:
                continue
            submission_id, case_id, destination_id = parsed
            await conn.execute(
                table.insert().values(
                    submission_id=submission_id,
                    direction="out",
                    application_id=row.application_id,
                    destination_id=destination_id,
                    case_id=case_id,
                    state=OPEN,
                    created_at=now,
                    updated_at=now,
                )
            )
            added += 1
    return added


async def check_open(repository: Repository, senders: dict[RouteKey, Sender]) -> None:
    """Read the new events of every open case and record what the destination decided."""
    table = fitconnect_submissions
    async with repository.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(table, deliveries.c.tenant_id, deliveries.c.route_id)
                .join(deliveries, deliveries.c.application_id == table.c.application_id)
                .where(
                    table.c.direction == "out",
                    table.c.state == OPEN,
                    deliveries.c.connector == "fitconnect",
                )
            )
        ).all()
    for row in rows:
        sender = senders.get((row.tenant_id, row.route_id))
        if sender is None:  # the route was reconfigured away from FIT-Connect
            continue
        try:
            await _check_case(repository, sender, row)
        except DeliveryError as exc:
            logger.warning("fitconnect.events_unavailable", case_id=row.case_id, error=exc.detail)


async def _check_case(repository: Repository, sender: Sender, row: Any) -> None:
    log, length = await sender.verifier.read(
        case_id=row.case_id,
        submission_id=row.submission_id,
        destination_id=row.destination_id,
        start=row.events_seen,
    )
    outcome = log.outcome()
    table = fitconnect_submissions
    async with repository.engine.begin() as conn:
        for refused in log.refused:
            logger.warning(
                "fitconnect.event_refused",
                case_id=row.case_id,
                submission_id=row.submission_id,
                index=refused.index,
                reason=refused.reason,
            )
            await audit.append(
                conn,
                audit.AuditEvent(
                    actor="system:fitconnect",
                    action="fitconnect.event_refused",
                    application_id=row.application_id,
                    details={
                        "case_id": row.case_id,
                        "submission_id": row.submission_id,
                        "index": refused.index,
                        "reason": refused.reason,
                    },
                ),
            )
        values: dict[str, Any] = {"events_seen": length, "updated_at": utcnow()}
        if outcome is not None:
            accepted = outcome.name == ACCEPT
            detail: dict[str, Any] = {
                "event": outcome.name,
                "eventId": outcome.jti,
                "submissionId": row.submission_id,
                "caseId": row.case_id,
            }
            if not accepted:
                detail["problems"] = problems_of(outcome)
            await status.record(
                conn,
                application_id=row.application_id,
                source=f"fitconnect:{row.destination_id}",
                status="accepted" if accepted else "rejected",
                detail=detail,
                sealer=repository.sealer,
            )
            values["state"] = "accepted" if accepted else "rejected"
        await conn.execute(
            table.update().where(table.c.submission_id == row.submission_id).values(**values)
        )
    if outcome is not None:
        logger.info(
            "fitconnect.case_decided",
            application_id=row.application_id,
            case_id=row.case_id,
            decision=outcome.name,
        )
