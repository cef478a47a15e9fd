"""The ``fitconnect`` connector: one envelope becomes one FIT-Connect submission (v2 API).

Flow per attempt: token (cached) → destination (must be ``active`` and accept the service and
the data's schema) → its encryption key (checked) → announce the submission with its attachment
ids → upload each attachment as JWE → submit encrypted metadata and data. The receipt's remote
reference is ``submission:<id>/case:<id>/destination:<id>``; the status tracker reads the case's
event log with it. A submission left half-made by a failed attempt is never submitted, and the
Zustelldienst discards it; the retry makes a new one.

Each attempt creates a new submission: FIT-Connect has no idempotency key. The metadata's
``senderReference`` is ``<application id>/<delivery id>``, the same on every attempt, so the
subscriber can drop duplicates exactly as a webhook back-end drops a repeated ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from cryptography import x509
from joserfc.jwk import RSAKey

from connectors.fitconnect import crypto, metadata
from connectors.fitconnect.client import FitConnectClient, json_of
from connectors.fitconnect.options import FitConnectOptions
from ozgbridge.connector import Connector, ConnectorContext, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import ConfigError, PermanentDeliveryError, RetriableDeliveryError

logger = structlog.get_logger("ozgbridge.connectors.fitconnect")

REFERENCE_PREFIX = "submission:"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_REFERENCE = re.compile(
    rf"submission:(?P<submission>{_UUID})/case:(?P<case>{_UUID})/destination:(?P<destination>{_UUID})"
)


def remote_reference(submission_id: str, case_id: str, destination_id: str) -> str:
    return f"{REFERENCE_PREFIX}{submission_id}/case:{case_id}/destination:{destination_id}"


def parse_remote_reference(reference: str) -> tuple[str, str, str] | None:
    """(submission, case, destination id) from a receipt's remote reference; None if not ours."""
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        return None
    return match["submission"], match["case"], match["destination"]


@dataclass(frozen=True)
class Destination:
    id: str
    schema_mime_type: str
    key: RSAKey


class FitConnectConnector(Connector[FitConnectOptions]):
    """Sends each envelope as an end-to-end encrypted FIT-Connect submission."""

    kind = "fitconnect"
    Options = FitConnectOptions

    def __init__(
        self, options: FitConnectOptions, *, context: ConnectorContext, timeout: float
    ) -> None:
        super().__init__(options, context=context, timeout=timeout)
        self._client = FitConnectClient(
            api_url=options.submission_api(),
            token_url=str(options.token_url),
            client_id=options.client_id,
            client_secret=options.client_secret.get_secret_value(),
            timeout=timeout,
        )
        self._trusted: list[x509.Certificate] | None = None
        if options.production and options.trusted_certificates is not None:
            try:
                self._trusted = crypto.load_certificates(
                    options.trusted_certificates.get_secret_value()
                )
            except crypto.KeyRejected as exc:
                raise ConfigError(f"route {context.route_id!r}: {exc}") from exc
        self._routes: dict[tuple[str, str], tuple[str, float]] = {}

    async def _deliver(self, envelope: Envelope) -> Receipt:
        if envelope.data.schema_uri is None:
            raise PermanentDeliveryError("form data names no schema; FIT-Connect requires one")
        destination = await self._destination(envelope)
        leika_urn = f"{metadata.LEIKA_URN_PREFIX}{envelope.service.leika_key}"
        ids = [str(uuid.uuid4()) for _ in envelope.attachments]
        # Hashing and RSA/AES over possibly large attachments: off the event loop.
        encrypted_attachments, encrypted_metadata, encrypted_data = await asyncio.to_thread(
            self._encrypt_all, envelope, destination, ids
        )
        announced: dict[str, Any] = {
            "destinationId": destination.id,
            "announcedAttachments": ids,
            "serviceType": {"identifier": leika_urn, "name": envelope.service.name or leika_urn},
        }
        if self.options.callback_url is not None and self.options.callback_secret is not None:
            announced["callbackInfo"] = {
                "url": str(self.options.callback_url),
                "secret": self.options.callback_secret.get_secret_value(),
            }
        created = await self._client.request(
            "POST", "/v2/submissions", what="create submission", json=announced
        )
        submission_id, case_id = _created_ids(json_of(created, "create submission"))
        for attachment_id, token in zip(ids, encrypted_attachments, strict=True):
            await self._client.request(
                "PUT",
                f"/v2/submissions/{submission_id}/attachments/{attachment_id}",
                what="upload attachment",
                content=token,
                content_type="application/jose",
            )
        await self._client.request(
            "PUT",
            f"/v2/submissions/{submission_id}",
            what="submit submission",
            json={"encryptedMetadata": encrypted_metadata, "encryptedData": encrypted_data},
        )
        logger.info(
            "fitconnect.submitted",
            delivery_id=envelope.delivery_id,
            destination_id=destination.id,
            submission_id=submission_id,
            case_id=case_id,
            attachments=len(ids),
        )
        return Receipt(
            remote_reference=remote_reference(submission_id, case_id, destination.id),
            detail=f"FIT-Connect submission {submission_id}, case {case_id}",
        )

    def _encrypt_all(
        self, envelope: Envelope, destination: Destination, ids: list[str]
    ) -> tuple[list[str], str, str]:
        entries = [
            metadata.AttachmentEntry(
                attachment_id=attachment_id,
                filename=a.filename,
                mime_type=a.mime_type,
                purpose=a.purpose,
                content=a.content,
            )
            for attachment_id, a in zip(ids, envelope.attachments, strict=True)
        ]
        try:
            document = metadata.build(
                leika_key=envelope.service.leika_key,
                service_name=envelope.service.name,
                data=envelope.data.content,
                schema_uri=envelope.data.schema_uri or "",
                schema_mime_type=destination.schema_mime_type,
                attachments=entries,
                sender_reference=f"{envelope.application_id}/{envelope.delivery_id}",
                application_date=envelope.submitted_at.date().isoformat(),
                version=self.options.metadata_version,
            )
        except metadata.MetadataInvalid as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        key = destination.key
        attachments = [
            crypto.encrypt(e.content, key, content_type=metadata.safe_mime_type(e.mime_type))
            for e in entries
        ]
        meta = crypto.encrypt(
            json.dumps(document, ensure_ascii=False).encode("utf-8"),
            key,
            content_type="application/json",
        )
        data = crypto.encrypt(envelope.data.content, key, content_type=destination.schema_mime_type)
        return attachments, meta, data

    async def _destination(self, envelope: Envelope) -> Destination:
        destination_id = await self._destination_id(envelope)
        response = await self._client.request(
            "GET", f"/v2/destinations/{destination_id}", what="destination"
        )
        info = json_of(response, "destination")
        if not isinstance(info, dict):
            raise RetriableDeliveryError("unreadable destination from FIT-Connect")
        if info.get("status") != "active":
            raise PermanentDeliveryError(
                f"FIT-Connect destination {destination_id} is {info.get('status')!r}, not active"
            )
        versions = info.get("metadataVersions")
        if isinstance(versions, list) and self.options.metadata_version not in versions:
            raise PermanentDeliveryError(
                f"destination {destination_id} does not accept metadata "
                f"{self.options.metadata_version}"
            )
        leika_urn = f"{metadata.LEIKA_URN_PREFIX}{envelope.service.leika_key}"
        schema_mime_type = _accepted_schema(info, leika_urn, envelope)
        kid = info.get("encryptionKid")
        if not isinstance(kid, str) or not kid or "/" in kid:
            raise PermanentDeliveryError(f"destination {destination_id} names no encryption key")
        key_response = await self._client.request(
            "GET", f"/v2/destinations/{destination_id}/keys/{kid}", what="encryption key"
        )
        jwk = json_of(key_response, "encryption key")
        try:
            if not isinstance(jwk, dict) or jwk.get("kid") != kid:
                raise crypto.KeyRejected("answer is not the requested key")
            key = crypto.encryption_key(jwk, trusted=self._trusted)
        except crypto.KeyRejected as exc:
            raise PermanentDeliveryError(
                f"encryption key of destination {destination_id} refused: {exc}"
            ) from exc
        return Destination(id=destination_id, schema_mime_type=schema_mime_type, key=key)

    async def _destination_id(self, envelope: Envelope) -> str:
        if self.options.destination_id is not None:
            return str(self.options.destination_id)
        routing_api = self.options.routing_api()
        assert routing_api is not None  # the options insist on one of the two
        cache_key = (envelope.service.leika_key, envelope.region.ars)
        cached = self._routes.get(cache_key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        response = await self._client.get_public(
            f"{routing_api}/routes",
            what="routing",
            params={"leikaKey": envelope.service.leika_key, "ars": envelope.region.ars},
        )
        document = json_of(response, "routing")
        routes = document.get("routes") if isinstance(document, dict) else None
        found = {
            str(r["destinationId"])
            for r in routes or []
            if isinstance(r, dict) and r.get("destinationId")
        }
        if len(found) != 1:
            raise PermanentDeliveryError(
                f"the Routing API names {len(found)} destinations for service "
                f"{envelope.service.leika_key} in {envelope.region.ars}, not exactly one"
            )
        destination_id = found.pop()
        try:
            destination_id = str(uuid.UUID(destination_id))
        except ValueError as exc:
            raise PermanentDeliveryError("the Routing API gave an invalid destination id") from exc
        self._routes[cache_key] = (
            destination_id,
            time.monotonic() + self.options.routing_cache_seconds,
        )
        return destination_id

    async def _close(self) -> None:
        await self._client.aclose()


def _accepted_schema(info: dict[str, Any], leika_urn: str, envelope: Envelope) -> str:
    """The MIME type the destination declares for the data's schema under this service."""
    services = info.get("services") if isinstance(info.get("services"), list) else []
    service = next(
        (s for s in services or [] if isinstance(s, dict) and s.get("identifier") == leika_urn),
        None,
    )
    destination_id = info.get("destinationId", "?")
    if service is None:
        raise PermanentDeliveryError(
            f"destination {destination_id} does not accept service {envelope.service.leika_key}"
        )
    schemas = [
        s
        for s in service.get("submissionSchemas") or []
        if isinstance(s, dict) and s.get("schemaUri") == envelope.data.schema_uri
    ]
    if not schemas:
        raise PermanentDeliveryError(
            f"destination {destination_id} does not accept the data's schema for service "
            f"{envelope.service.leika_key}"
        )
    # A schema may be declared for JSON and XML; prefer the one the portal's data claims to be.
    wanted = metadata.safe_mime_type(envelope.data.mime_type)
    chosen = next((s for s in schemas if s.get("mimeType") == wanted), schemas[0])
    mime_type = chosen.get("mimeType")
    if mime_type not in ("application/json", "application/xml"):
        raise PermanentDeliveryError(
            f"destination {destination_id} declares an unusable schema MIME type"
        )
    return str(mime_type)


def _created_ids(document: Any) -> tuple[str, str]:
    try:
        submission_id = str(uuid.UUID(str(document["submissionId"])))
        case_id = str(uuid.UUID(str(document["caseId"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise RetriableDeliveryError("FIT-Connect answered without submission or case id") from exc
    return submission_id, case_id
