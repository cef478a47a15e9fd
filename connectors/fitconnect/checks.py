"""Checking one downloaded FIT-Connect submission: decrypt, match metadata, hashes, schemas.

Everything that can be wrong with a submission becomes a `Rejection` naming a FIT-Connect problem
type; the caller answers it with ``reject-submission``. Messages name ids and places, never
content: they go to the sender, into logs and into the audit log.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import RSAKey
from jsonschema import Draft202012Validator

from connectors.fitconnect import crypto, metadata
from connectors.fitconnect.client import FitConnectClient
from ozgbridge.domain import RegionRef, ags_from_ars, is_leika_key
from ozgbridge.ids import new_id
from ozgbridge.store.records import NewAttachment

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


async def check(sub: Subscription, submission: Any, submission_id: str) -> Checked:
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
