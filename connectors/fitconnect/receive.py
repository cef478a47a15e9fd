"""Receiving one FIT-Connect submission (subscriber side): download, decrypt, check, store.

Order matters for "never lose one, never take one twice": the application is stored (one
transaction, keyed by the submission id in the idempotency table) *before* ``accept-submission``
is sent. A crash in between leaves the submission listed at the Zustelldienst; the next round
finds the stored application by its submission id and only sends the accept again.

A submission that cannot be processed (undecryptable, hashes or attachments not matching the
metadata, metadata or data not following their schema, no responsible authority) is answered
with ``reject-submission`` and one problem; nothing is stored, and the audit log says why.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

import structlog

from connectors.fitconnect import crypto, problems
from connectors.fitconnect.checks import Subscription, check
from connectors.fitconnect.client import json_of
from connectors.fitconnect.events import ACCEPT, EVENT_PREFIX, REJECT, SET_SCHEMA
from connectors.fitconnect.problems import Rejection
from ozgbridge.audit import AuditEvent
from ozgbridge.errors import RoutingError
from ozgbridge.intake import IntakeContext, count_unmet_demand
from ozgbridge.store.records import IdempotencyRecord, NewApplication
from ozgbridge.store.repository import IdempotencyKeyTaken

logger = structlog.get_logger("ozgbridge.connectors.fitconnect.intake")

PLUGIN = "fitconnect"  # the name of this plug-in's records in the store


async def receive(
    sub: Subscription, context: IntakeContext, submission_id: str, case_id: str
) -> str:
    """Store (if not yet stored) and answer one submission; returns what was done."""
    log = logger.bind(destination_id=sub.destination_id, submission_id=submission_id)
    repository = context.repository
    stored = await repository.find_idempotent(sub.actor, submission_id)
    if stored is not None:
        remembered = json.loads(stored.response_body)
        application_id, tags = remembered["id"], remembered["tags"]
        await _answer_accept(
            sub,
            context,
            submission_id=submission_id,
            case_id=case_id,
            application_id=application_id,
            tags=tags,
        )
        log.info("fitconnect.intake_accept_repeated", application_id=application_id)
        return "accepted"
    response = await sub.client.request(
        "GET", f"/v2/submissions/{submission_id}", what="submission"
    )
    submission = json_of(response, "submission")
    try:
        checked = await check(sub, submission, submission_id, case_id)
        resolution = context.router.resolve(checked.leika_key, checked.region)
    except Rejection as rejection:
        await _reject(sub, context, submission_id, case_id, rejection)
        log.info(
            "fitconnect.intake_rejected",
            problem=rejection.problem.name,
            instance=rejection.instance,
        )
        return "rejected"
    except RoutingError as exc:
        await count_unmet_demand(context.repository, exc)
        unroutable = Rejection(
            problems.UNSUPPORTED_SERVICE, problems.SUBMISSION, f"no responsible authority ({exc})"
        )
        await _reject(sub, context, submission_id, case_id, unroutable)
        log.info("fitconnect.intake_rejected", problem=unroutable.problem.name)
        return "rejected"
    new = NewApplication.routed(
        resolution,
        leika_key=checked.leika_key,
        service_name=checked.service_name,
        region=checked.region,
        reference=submission_id,
        submitted_by=sub.actor,
        data_mime_type=checked.data_mime_type,
        data_schema_uri=checked.schema_uri,
        data=checked.data,
        attachments=tuple(checked.attachments),
    )
    answer = json.dumps({"id": new.id, "tags": checked.tags})
    record = IdempotencyRecord(
        api_key_id=sub.actor,
        key=submission_id,
        request_sha256=hashlib.sha256(checked.data).hexdigest(),
        response_status=202,
        response_body=answer,
    )
    try:
        await repository.accept(new, idempotency=record)
    except IdempotencyKeyTaken:
        # Another worker stored it first; it also answers it.
        log.info("fitconnect.intake_taken_elsewhere")
        return "taken"
    log.info(
        "fitconnect.intake_stored",
        application_id=new.id,
        tenant_id=new.tenant_id,
        route_id=new.route_id,
        leika_key=new.leika_key,
        attachments=len(new.attachments),
    )
    if context.on_accepted is not None:
        context.on_accepted()
    await _answer_accept(
        sub,
        context,
        submission_id=submission_id,
        case_id=case_id,
        application_id=new.id,
        tags=checked.tags,
    )
    return "accepted"


def _set(sub: Subscription, submission_id: str, case_id: str, name: str, payload: Any) -> str:
    claims = {
        "$schema": SET_SCHEMA,
        "jti": str(uuid.uuid4()),
        "iss": sub.destination_id,
        "iat": int(time.time()),
        "sub": f"submission:{submission_id}",
        "txn": f"case:{case_id}",
        "events": {EVENT_PREFIX + name: payload},
    }
    return crypto.sign_set(claims, sub.signing_key)


async def _post_event(sub: Subscription, case_id: str, token: str) -> None:
    await sub.client.request(
        "POST",
        f"/v2/cases/{case_id}/events",
        what="event",
        content=token,
        content_type="application/jose",
    )


async def _answer_accept(
    sub: Subscription,
    context: IntakeContext,
    *,
    submission_id: str,
    case_id: str,
    application_id: str,
    tags: dict[str, Any],
) -> None:
    token = _set(sub, submission_id, case_id, ACCEPT, {"authenticationTags": tags})
    await _post_event(sub, case_id, token)
    await _remember(
        sub,
        context,
        submission_id=submission_id,
        case_id=case_id,
        application_id=application_id,
        state="accepted",
    )


async def _reject(
    sub: Subscription,
    context: IntakeContext,
    submission_id: str,
    case_id: str,
    rejection: Rejection,
) -> None:
    token = _set(sub, submission_id, case_id, REJECT, {"problems": [rejection.as_problem()]})
    await _post_event(sub, case_id, token)
    await _remember(
        sub,
        context,
        submission_id=submission_id,
        case_id=case_id,
        application_id=None,
        state="rejected",
        rejection=rejection,
    )


async def _remember(
    sub: Subscription,
    context: IntakeContext,
    *,
    submission_id: str,
    case_id: str,
    application_id: str | None,
    state: str,
    rejection: Rejection | None = None,
) -> None:
    """The answer given, as a plug-in record and an audit event (one transaction)."""
    details: dict[str, Any] = {
        "submission_id": submission_id,
        "case_id": case_id,
        "destination_id": sub.destination_id,
    }
    if rejection is not None:
        details |= {
            "problem": rejection.problem.name,
            "instance": rejection.instance,
            "reason": rejection.detail,
        }
    async with context.repository.plugin_state(PLUGIN).transaction() as tx:
        await tx.put(
            received_key(submission_id),
            state=state,
            data={
                "submission_id": submission_id,
                "case_id": case_id,
                "destination_id": sub.destination_id,
            },
            application_id=application_id,
        )
        await tx.audit(
            AuditEvent(
                actor=sub.actor,
                action=f"fitconnect.submission_{state}",
                application_id=application_id,
                details=details,
            )
        )


def received_key(submission_id: str) -> str:
    """The plug-in record of a received submission (sent ones: `tracking.sent_key`)."""
    return f"in:{submission_id}"
