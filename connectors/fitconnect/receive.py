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

import asyncio
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from joserfc.jwk import RSAKey
from jsonschema import Draft202012Validator

from connectors.fitconnect import crypto, metadata
from connectors.fitconnect.client import FitConnectClient
from connectors.fitconnect.events import ACCEPT, EVENT_PREFIX, REJECT, SET_SCHEMA
from ozgbridge import audit
from ozgbridge.domain import RegionRef, ags_from_ars, is_leika_key, utcnow
from ozgbridge.errors import RoutingError
from ozgbridge.ids import new_id
from ozgbridge.intake import IntakeContext
from ozgbridge.store.records import IdempotencyRecord, NewApplication, NewAttachment
from ozgbridge.store.repository import IdempotencyKeyTaken
from ozgbridge.store.tables import fitconnect_submissions

logger = structlog.get_logger("ozgbridge.connectors.fitconnect.intake")

PROBLEM_PREFIX = "https://schema.fitko.de/fit-connect/events/problems/"
_REGION_URN = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:"


class Rejection(Exception):
    """The submission cannot be processed; ``problem`` names a FIT-Connect problem type."""

    def __init__(self, problem: str, title: str) -> None:
        super().__init__(title)
        self.problem = problem
        self.title = title


@dataclass(frozen=True)
class Subscription:
    """One destination this installation receives for, with its keys and rules."""

    destination_id: str
    client: FitConnectClient
    decryption_key: RSAKey
    signing_key: RSAKey
    default_region: RegionRef | None
    data_schemas: dict[str, Draft202012Validator]
    metadata_version: str

    @property
    def actor(self) -> str:
        return f"fitconnect:{self.destination_id}"


@dataclass(frozen=True)
class Checked:
    """A decrypted submission whose contents match its metadata."""

    leika_key: str
    service_name: str | None
    region: RegionRef
    data: bytes
    data_mime_type: str
    schema_uri: str
    attachments: list[NewAttachment]
    tags: dict[str, Any]  # authentication tags for accept-submission


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
    submission = (
        await sub.client.request("GET", f"/v2/submissions/{submission_id}", what="submission")
    ).json()
    try:
        checked = await _check(sub, submission, submission_id)
        resolution = context.router.resolve(checked.leika_key, checked.region)
    except Rejection as rejection:
        await _reject(sub, context, submission_id, case_id, rejection)
        log.info("fitconnect.intake_rejected", problem=rejection.problem)
        return "rejected"
    except RoutingError as exc:
        unroutable = Rejection("unsupported-service", f"no responsible authority ({exc})")
        await _reject(sub, context, submission_id, case_id, unroutable)
        log.info("fitconnect.intake_rejected", problem=unroutable.problem)
        return "rejected"
    route = resolution.route
    new = NewApplication(
        id=new_id(),
        delivery_id=new_id(),
        tenant_id=resolution.tenant.id,
        route_id=route.id,
        connector=route.connector,
        routing_reason=resolution.reason,
        leika_key=checked.leika_key,
        service_name=checked.service_name,
        region=checked.region,
        reference=submission_id,
        submitted_by=sub.actor,
        data_mime_type=checked.data_mime_type,
        data_schema_uri=checked.schema_uri,
        data=checked.data,
        attachments=tuple(checked.attachments),
        first_attempt_delay=route.retry_schedule[0] if route.retry_schedule else 0.0,
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


async def _check(sub: Subscription, submission: Any, submission_id: str) -> Checked:
    if not isinstance(submission, dict):
        raise Rejection("syntax-violation", "submission is not an object")
    meta_token = submission.get("encryptedMetadata")
    data_token = submission.get("encryptedData")
    if not isinstance(meta_token, str):
        raise Rejection("missing-metadata", "submission has no metadata")
    if not isinstance(data_token, str):
        raise Rejection("missing-data", "submission has no data")
    document = _json(await _decrypt(sub, meta_token), "metadata")
    try:
        metadata.validate(document, sub.metadata_version)
    except metadata.MetadataInvalid as exc:
        raise Rejection("schema-violation", str(exc)) from exc
    data = await _decrypt(sub, data_token)
    structure = document["contentStructure"]
    data_part = structure.get("data")
    if data_part is None:
        raise Rejection("missing-data", "metadata announces no data")
    if metadata.sha512_hex(data) != data_part["hash"]["content"]:
        raise Rejection("hash-mismatch", "data does not match the hash in the metadata")
    schema_uri = data_part["submissionSchema"]["schemaUri"]
    mime_type = data_part["submissionSchema"]["mimeType"]
    _check_data(sub, data, schema_uri, mime_type)
    announced = submission.get("attachments") or []
    entries = structure.get("attachments") or []
    if sorted(str(a) for a in announced) != sorted(e["attachmentId"] for e in entries):
        raise Rejection("attachments-mismatch", "attachments differ from the metadata")
    attachments = []
    attachment_tags = {}
    for entry in entries:
        attachment_id = entry["attachmentId"]
        token = (
            await sub.client.request(
                "GET",
                f"/v2/submissions/{submission_id}/attachments/{attachment_id}",
                what="attachment",
            )
        ).text
        content = await _decrypt(sub, token)
        if metadata.sha512_hex(content) != entry["hash"]["content"]:
            raise Rejection("hash-mismatch", f"attachment {attachment_id} does not match its hash")
        attachment_tags[attachment_id] = crypto.authentication_tag(token)
        attachments.append(
            NewAttachment(
                id=new_id(),
                filename=str(entry.get("filename") or f"{attachment_id}.bin")[:255],
                mime_type=entry["mimeType"],
                purpose=entry["purpose"],
                content=content,
            )
        )
    leika_key = metadata.leika_key_of(document) or _leika_of_service_type(submission)
    if leika_key is None or not is_leika_key(leika_key):
        raise Rejection("unsupported-service", "the service is not named by a LeiKa key")
    return Checked(
        leika_key=leika_key,
        service_name=(document.get("publicServiceType") or {}).get("name"),
        region=_region(sub, submission),
        data=data,
        data_mime_type=mime_type,
        schema_uri=schema_uri,
        attachments=attachments,
        tags={
            "metadata": crypto.authentication_tag(meta_token),
            "data": crypto.authentication_tag(data_token),
            "attachments": attachment_tags,
        },
    )


async def _decrypt(sub: Subscription, token: str) -> bytes:
    try:
        plaintext, _ = await asyncio.to_thread(crypto.decrypt, token, sub.decryption_key)
    except crypto.CryptoFailure as exc:
        raise Rejection("encryption-issue", str(exc)) from exc
    return plaintext


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Rejection("syntax-violation", f"{what} is not JSON") from exc


def _check_data(sub: Subscription, data: bytes, schema_uri: str, mime_type: str) -> None:
    if sub.data_schemas and schema_uri not in sub.data_schemas:
        raise Rejection("unsupported-data-schema", "the data's schema is not accepted here")
    if mime_type != "application/json":
        return
    document = _json(data, "data")
    validator = sub.data_schemas.get(schema_uri)
    if validator is not None:
        error = next(iter(validator.iter_errors(document)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise Rejection("schema-violation", f"data does not follow its schema at {where}")


def _leika_of_service_type(submission: dict[str, Any]) -> str | None:
    identifier = (submission.get("serviceType") or {}).get("identifier")
    if isinstance(identifier, str) and identifier.startswith(metadata.LEIKA_URN_PREFIX):
        return identifier[len(metadata.LEIKA_URN_PREFIX) :]
    return None


def _region(sub: Subscription, submission: dict[str, Any]) -> RegionRef:
    given = submission.get("region")
    if isinstance(given, str) and given:
        ars = given.removeprefix(_REGION_URN)
        try:
            return RegionRef(ars=ars, ags=ags_from_ars(ars))
        except ValueError as exc:
            raise Rejection("syntax-violation", "region is not an ARS") from exc
    if sub.default_region is None:
        raise Rejection("unsupported-service", "no region given and none configured")
    return sub.default_region


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
    problem = {
        "type": PROBLEM_PREFIX + rejection.problem,
        "title": rejection.title,
        "instance": "submission",
    }
    token = _set(sub, submission_id, case_id, REJECT, {"problems": [problem]})
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
    """The answer given, as a row and an audit event (one transaction)."""
    now = utcnow()
    table = fitconnect_submissions
    async with context.repository.engine.begin() as conn:
        updated = await conn.execute(
            table.update()
            .where(table.c.submission_id == submission_id)
            .values(state=state, updated_at=now)
        )
        if updated.rowcount == 0:
            await conn.execute(
                table.insert().values(
                    submission_id=submission_id,
                    direction="in",
                    application_id=application_id,
                    destination_id=sub.destination_id,
                    case_id=case_id,
                    state=state,
                    created_at=now,
                    updated_at=now,
                )
            )
        details: dict[str, Any] = {
            "submission_id": submission_id,
            "case_id": case_id,
            "destination_id": sub.destination_id,
        }
        if rejection is not None:
            details |= {"problem": rejection.problem, "reason": rejection.title}
        await audit.append(
            conn,
            audit.AuditEvent(
                actor=sub.actor,
                action=f"fitconnect.submission_{state}",
                application_id=application_id,
                details=details,
            ),
        )
