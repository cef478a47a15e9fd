"""Status of sent submissions: read each open case's event log until the destination decides.

Delivered ``fitconnect`` deliveries are picked up (their remote reference names submission and
case) as plug-in records ``out:<submission id>`` in state ``submitted``; each round reads the new
events of every open case, verifies them, and turns ``accept-submission`` /
``reject-submission`` into a status history entry. Tokens that do not verify are refused —
logged and audited once each — and never change a status. All of it goes through the store's
plug-in records (`Repository.plugin_state`): no SQL here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from connectors.fitconnect.client import FitConnectClient
from connectors.fitconnect.connector import parse_remote_reference
from connectors.fitconnect.events import ACCEPT, EventVerifier, problems_of
from connectors.fitconnect.receive import PLUGIN
from ozgbridge.audit import AuditEvent
from ozgbridge.errors import DeliveryError
from ozgbridge.store.plugin_state import PluginRecord
from ozgbridge.store.repository import Repository

logger = structlog.get_logger("ozgbridge.connectors.fitconnect.status")

OPEN = "submitted"
UNTRACKABLE = "untrackable"  # a delivery whose remote reference names no submission
RouteKey = tuple[str, str]


@dataclass(frozen=True)
class Sender:
    client: FitConnectClient
    verifier: EventVerifier


def sent_key(submission_id: str) -> str:
    return f"out:{submission_id}"


async def discover(repository: Repository) -> int:
    """Start tracking every delivered fitconnect delivery not tracked yet; returns how many."""
    state = repository.plugin_state(PLUGIN)
    added = 0
    for delivered in await state.untracked_deliveries():
        parsed = parse_remote_reference(delivered.remote_reference or "")
        if parsed is None:
            # Noted once, so it is not listed again (and cannot crowd out the others).
            await state.put(
                f"delivery:{delivered.delivery_id}",
                state=UNTRACKABLE,
                application_id=delivered.application_id,
                delivery_id=delivered.delivery_id,
                only_if_new=True,
            )
            logger.warning("fitconnect.untrackable_delivery", delivery_id=delivered.delivery_id)
            continue
        submission_id, case_id, destination_id = parsed
        key = sent_key(submission_id)
        if await state.put(
            key,
            state=OPEN,
            data={
                "submission_id": submission_id,
                "case_id": case_id,
                "destination_id": destination_id,
                "events_seen": 0,
            },
            application_id=delivered.application_id,
            delivery_id=delivered.delivery_id,
            only_if_new=True,
        ):
            added += 1
            continue
        known = await state.get(key)
        if known is not None and known.delivery_id is None:
            # Tracked from before records named their delivery: name it now, change nothing else.
            await state.put(
                key,
                state=known.state,
                data=known.data,
                application_id=known.application_id,
                delivery_id=delivered.delivery_id,
            )
    return added


async def check_open(repository: Repository, senders: dict[RouteKey, Sender]) -> None:
    """Read the new events of every open case and record what the destination decided."""
    for record in await repository.plugin_state(PLUGIN).find(state=OPEN):
        if record.tenant_id is None or record.route_id is None:
            continue  # the delivery is gone (its application was deleted)
        sender = senders.get((record.tenant_id, record.route_id))
        if sender is None:  # the route was reconfigured away from FIT-Connect
            continue
        try:
            await _check_case(repository, sender, record)
        except DeliveryError as exc:
            logger.warning(
                "fitconnect.events_unavailable", case_id=record.data["case_id"], error=exc.detail
            )


async def _check_case(repository: Repository, sender: Sender, record: PluginRecord) -> None:
    case_id = record.data["case_id"]
    submission_id = record.data["submission_id"]
    destination_id = record.data["destination_id"]
    assert record.application_id is not None  # sent submissions are always about one
    log, length = await sender.verifier.read(
        case_id=case_id,
        submission_id=submission_id,
        destination_id=destination_id,
        start=int(record.data.get("events_seen", 0)),
    )
    outcome = log.outcome()
    async with repository.plugin_state(PLUGIN).transaction() as tx:
        for refused in log.refused:
            logger.warning(
                "fitconnect.event_refused",
                case_id=case_id,
                submission_id=submission_id,
                index=refused.index,
                reason=refused.reason,
            )
            await tx.audit(
                AuditEvent(
                    actor="system:fitconnect",
                    action="fitconnect.event_refused",
                    application_id=record.application_id,
                    details={
                        "case_id": case_id,
                        "submission_id": submission_id,
                        "index": refused.index,
                        "reason": refused.reason,
                    },
                )
            )
        new_state = record.state
        if outcome is not None:
            accepted = outcome.name == ACCEPT
            detail: dict[str, Any] = {
                "event": outcome.name,
                "eventId": outcome.jti,
                "submissionId": submission_id,
                "caseId": case_id,
            }
            if not accepted:
                detail["problems"] = problems_of(outcome)
            await tx.record_status(
                application_id=record.application_id,
                source=f"fitconnect:{destination_id}",
                status="accepted" if accepted else "rejected",
                detail=detail,
            )
            new_state = "accepted" if accepted else "rejected"
        await tx.put(
            record.key,
            state=new_state,
            data={**record.data, "events_seen": length},
            application_id=record.application_id,
            delivery_id=record.delivery_id,
        )
    if outcome is not None:
        logger.info(
            "fitconnect.case_decided",
            application_id=record.application_id,
            case_id=case_id,
            decision=outcome.name,
        )
