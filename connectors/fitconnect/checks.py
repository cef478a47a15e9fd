"""Checking one downloaded FIT-Connect submission, in the order FITKO's verification page lists
(https://docs.fitko.de/fit-connect/docs/receiving/verification/): the event log's authentication
tags, decryption, metadata syntax and schema (the one its ``$schema`` names), data and attachments
against their hashes, the service. Whatever fails becomes a `problems.Rejection` naming a
catalogue problem and the part (``instance``); the caller answers it with ``reject-submission``.
Messages name ids and places, never content.
"""

from __future__ import annotations

import asyncio
import gc
import json
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import RSAKey
from jsonschema import Draft202012Validator

from connectors.fitconnect import crypto, limits, metadata, problems
from connectors.fitconnect.client import FitConnectClient, ResponseTooLarge
from connectors.fitconnect.events import EventVerifier
from connectors.fitconnect.integrity import expected_tags
from connectors.fitconnect.problems import Rejection
from ozgbridge.domain import RegionRef, ags_from_ars, is_leika_key
from ozgbridge.ids import new_id
from ozgbridge.store.records import NewAttachment

_REGION_URN = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:"
NO_DATA_MIME_TYPE = "application/octet-stream"
_COLLECT_ABOVE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Subscription:
    """One destination this installation receives for, with its keys and rules."""

    destination_id: str
    client: FitConnectClient
    verifier: EventVerifier
    decryption_key: RSAKey
    signing_key: RSAKey
    default_region: RegionRef | None
    data_schemas: dict[str, Draft202012Validator]

    @property
    def actor(self) -> str:
        # Also the owner of the submissions' idempotency records: with the plug-in mark (":"),
        # retention keeps them as long as the application (ozgbridge.store.records).
        return f"fitconnect:{self.destination_id}"


@dataclass(frozen=True)
class Checked:
    """A decrypted submission whose contents match its metadata and the event log."""

    leika_key: str
    service_name: str | None
    region: RegionRef
    data: bytes
    data_mime_type: str
    schema_uri: str | None
    attachments: list[NewAttachment]
    tags: dict[str, Any]  # authentication tags for accept-submission


async def check(sub: Subscription, submission: Any, submission_id: str, case_id: str) -> Checked:
    if not isinstance(submission, dict):
        raise Rejection(problems.SYNTAX_VIOLATION, problems.SUBMISSION, "submission is no object")
    meta_token = submission.get("encryptedMetadata")
    data_token = submission.get("encryptedData")
    if not isinstance(meta_token, str):
        raise Rejection(problems.SYNTAX_VIOLATION, problems.METADATA, "submission has no metadata")
    if data_token is not None and not isinstance(data_token, str):
        raise Rejection(problems.SYNTAX_VIOLATION, problems.DATA, "encryptedData is no JWE")
    announced = [str(a) for a in submission.get("attachments") or []]
    log, _ = await sub.verifier.read(
        case_id=case_id, submission_id=submission_id, destination_id=sub.destination_id
    )
    tags = expected_tags(log, announced=announced, has_data=data_token is not None)
    _match_tag(tags.metadata, meta_token, problems.METADATA)
    if data_token is not None:
        _match_tag(tags.data, data_token, problems.DATA)

    document = _json(await _decrypt(sub, meta_token, problems.METADATA), problems.METADATA)
    try:
        metadata.validate_incoming(document)
    except metadata.UnsupportedVersion as exc:
        raise Rejection(problems.UNSUPPORTED_METADATA_SCHEMA, problems.METADATA, str(exc)) from exc
    except metadata.MetadataInvalid as exc:
        raise Rejection(problems.SCHEMA_VIOLATION, problems.METADATA, str(exc)) from exc
    structure = document["contentStructure"]
    data, mime_type, schema_uri = await _data(sub, structure.get("data"), data_token)
    attachments, attachment_tags = await _attachments(
        sub, submission_id, structure.get("attachments") or [], announced, tags.attachments
    )
    leika_key, service_name = _service(submission, document)
    accepted_tags: dict[str, Any] = {"metadata": tags.metadata, "attachments": attachment_tags}
    if data_token is not None:
        accepted_tags["data"] = tags.data
    return Checked(
        leika_key=leika_key,
        service_name=service_name,
        region=_region(sub, submission),
        data=data,
        data_mime_type=mime_type,
        schema_uri=schema_uri,
        attachments=attachments,
        tags=accepted_tags,
    )


def _match_tag(expected: str | None, token: str, instance: str) -> None:
    try:
        received = crypto.authentication_tag(token)
    except crypto.CryptoFailure as exc:
        raise Rejection(
            problems.ENCRYPTION_ISSUE, instance, f"{instance} is no compact JWE"
        ) from exc
    if expected != received:
        raise Rejection(
            problems.INCORRECT_AUTHENTICATION_TAG,
            instance,
            f"the authentication tag of {instance} differs from the submit-submission event",
        )


async def _data(
    sub: Subscription, described: Any, token: str | None
) -> tuple[bytes, str, str | None]:
    if described is None:
        if token is not None:
            raise Rejection(
                problems.MISSING_DATA, problems.METADATA, "data was sent but the metadata omits it"
            )
        # Metadata 1.x lets a submission carry attachments only.
        return b"", NO_DATA_MIME_TYPE, None
    if token is None:
        raise Rejection(problems.MISSING_DATA, problems.DATA, "metadata announces data, none sent")
    data = await _decrypt(sub, token, problems.DATA)
    if metadata.sha512_hex(data) != described["hash"]["content"]:
        raise Rejection(problems.HASH_MISMATCH, problems.DATA, "data does not match its hash")
    schema_uri = described["submissionSchema"]["schemaUri"]
    mime_type = described["submissionSchema"]["mimeType"]
    if sub.data_schemas and schema_uri not in sub.data_schemas:
        raise Rejection(
            problems.UNSUPPORTED_SCHEMA, problems.DATA, "the data's schema is not accepted here"
        )
    if mime_type == "application/json":
        parsed = _json(data, problems.DATA)
        validator = sub.data_schemas.get(schema_uri)
        error = next(iter(validator.iter_errors(parsed)), None) if validator else None
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise Rejection(
                problems.SCHEMA_VIOLATION, problems.DATA, f"data breaks its schema at {where}"
            )
    return data, mime_type, schema_uri


async def _attachments(
    sub: Subscription,
    submission_id: str,
    entries: list[dict[str, Any]],
    announced: list[str],
    expected: dict[str, str],
) -> tuple[list[NewAttachment], dict[str, str]]:
    uploads = [u for e in entries for u in (e.get("fragments") or [e["attachmentId"]])]
    if sorted(uploads) != sorted(announced) or len(set(uploads)) != len(uploads):
        raise Rejection(
            problems.ATTACHMENTS_MISMATCH, problems.METADATA, "attachments differ from metadata"
        )
    if len(entries) > limits.MAX_ATTACHMENTS:
        raise Rejection(
            problems.ATTACHMENTS_MISMATCH,
            problems.METADATA,
            f"more than {limits.MAX_ATTACHMENTS} attachments",
        )
    found, tags = [], {}
    for entry in entries:
        attachment_id = entry["attachmentId"]
        instance = problems.attachment(attachment_id)
        parts = []
        for upload_id in entry.get("fragments") or [attachment_id]:
            token = await _download(sub, submission_id, upload_id, instance)
            _match_tag(expected.get(upload_id), token, problems.attachment(upload_id))
            tags[upload_id] = crypto.authentication_tag(token)
            parts.append(await _decrypt(sub, token, instance))
            if len(token) >= _COLLECT_ABOVE_BYTES:
                del token
                gc.collect()  # free joserfc's and httpx's reference cycles per upload
        content = parts[0] if len(parts) == 1 else b"".join(parts)
        del parts
        if metadata.sha512_hex(content) != entry["hash"]["content"]:
            raise Rejection(problems.HASH_MISMATCH, instance, f"{instance} does not match its hash")
        found.append(
            NewAttachment(
                id=new_id(),
                filename=str(entry.get("filename") or f"{attachment_id}.bin")[:255],
                mime_type=entry["mimeType"],
                purpose=entry["purpose"],
                content=content,
            )
        )
    return found, tags


async def _download(sub: Subscription, submission_id: str, upload_id: str, instance: str) -> str:
    try:
        response = await sub.client.request(
            "GET",
            f"/v2/submissions/{submission_id}/attachments/{upload_id}",
            what="attachment",
            max_bytes=limits.MAX_UPLOAD_BYTES * 4 // 3 + 4096,
        )
    except ResponseTooLarge as exc:
        raise Rejection(
            problems.TECHNICAL_ERROR, instance, "an upload is larger than FIT-Connect allows"
        ) from exc
    return response.text


def _service(submission: dict[str, Any], document: dict[str, Any]) -> tuple[str, str | None]:
    announced = submission.get("publicService") or {}
    described = document.get("publicServiceType") or {}
    both = announced.get("identifier") and described.get("identifier")
    if both and announced["identifier"] != described["identifier"]:
        raise Rejection(
            problems.SERVICE_MISMATCH,
            problems.METADATA,
            "the metadata names another service than the submission",
        )
    identifier = announced.get("identifier") or described.get("identifier")
    leika_key = metadata.leika_key_of(identifier)
    if leika_key is None or not is_leika_key(leika_key):
        raise Rejection(
            problems.UNSUPPORTED_SERVICE, problems.SUBMISSION, "the service has no LeiKa key"
        )
    name = announced.get("name") or described.get("name")
    return leika_key, name if isinstance(name, str) else None


async def _decrypt(sub: Subscription, token: str, instance: str) -> bytes:
    try:
        plaintext, _ = await asyncio.to_thread(crypto.decrypt, token, sub.decryption_key)
    except crypto.CryptoFailure as exc:
        raise Rejection(problems.ENCRYPTION_ISSUE, instance, str(exc)) from exc
    return plaintext


def _json(raw: bytes, instance: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Rejection(problems.SYNTAX_VIOLATION, instance, f"{instance} is not JSON") from exc


def _region(sub: Subscription, submission: dict[str, Any]) -> RegionRef:
    """The municipality from the announced ``region`` (an ARS URN); a broader region (a Kreis,
    a Land) names no municipality, so the destination's configured default applies then."""
    given = submission.get("region")
    if given is not None and not (isinstance(given, str) and given.startswith(_REGION_URN)):
        raise Rejection(problems.SYNTAX_VIOLATION, problems.SUBMISSION, "region is no ARS URN")
    ars = given.removeprefix(_REGION_URN) if isinstance(given, str) else None
    if ars is not None and len(ars) == 12 and ars.isdigit():
        try:
            return RegionRef(ars=ars, ags=ags_from_ars(ars))
        except ValueError as exc:
            raise Rejection(
                problems.SYNTAX_VIOLATION, problems.SUBMISSION, "region is not a valid ARS"
            ) from exc
    if sub.default_region is None:
        raise Rejection(
            problems.UNSUPPORTED_SERVICE,
            problems.SUBMISSION,
            "no municipality named and no default region configured",
        )
    return sub.default_region
