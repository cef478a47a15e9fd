"""The ``fitconnect`` connector: one envelope becomes one FIT-Connect submission (API v2).

Flow per attempt (paths and fields as FITKO's v2 clients use them: optiGov/php-fitconnect
``src/FitConnect/Client.php``; klarbau/govtech-de ``src/lib/fit-connect/rest-tier2.ts``, verified
against the test environment): token (cached) → ``GET /v2/destinations/{id}`` (see
`destination.plan`: active, ``publicServices`` with the service and the data's schema,
``metadataVersions``, ``encryptionKid``) → ``GET /v2/destinations/{id}/keys/{kid}`` (checked) →
``POST /v2/submissions`` announcing ``destinationId``, ``announcedAttachments``,
``publicService {name, identifier}`` and, where the destination lists one covering the
applicant's, ``region`` → ``PUT /v2/submissions/{id}/attachments/{aid}`` (``application/jose``)
per upload → ``PUT /v2/submissions/{id}`` with ``encryptedMetadata`` and ``encryptedData``.

Large attachments: each upload is encrypted and sent on its own, so at most one upload's JWE is
in memory besides the envelope; attachments above `limits.MAX_UPLOAD_BYTES` go as fragments
(metadata 2.x ``fragments``). Beyond FIT-Connect's limits the delivery is dead at once, naming
the limit.

Each attempt creates a new submission: FIT-Connect has no idempotency key. The metadata's
``senderReference`` is ``<application id>/<delivery id>``, the same on every attempt, so the
subscriber can drop duplicates. A submission left half-made by a failed attempt is never
submitted, and the Zustelldienst discards it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import uuid
from typing import Any

import structlog
from cryptography import x509
from joserfc.jwk import RSAKey

from connectors.fitconnect import crypto, destination, metadata
from connectors.fitconnect.client import FitConnectClient, json_of
from connectors.fitconnect.options import FitConnectOptions
from connectors.fitconnect.routing import Router, host_of
from connectors.fitconnect.uploads import check_limits, encrypt_upload, layout
from ozgbridge.connector import Connector, ConnectorContext, Receipt
from ozgbridge.domain import Envelope
from ozgbridge.errors import ConfigError, PermanentDeliveryError, RetriableDeliveryError

logger = structlog.get_logger("ozgbridge.connectors.fitconnect")

REFERENCE_PREFIX = "submission:"
_COLLECT_ABOVE_BYTES = 1024 * 1024
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
        self._router: Router | None = None
        routing_api = options.routing_api()
        if routing_api is not None and options.routing_jwks_url is not None:
            self._router = Router(
                self._client,
                routing_api=routing_api,
                jwks_url=str(options.routing_jwks_url),
                submission_host=host_of(options.submission_api()),
                cache_seconds=options.routing_cache_seconds,
            )

    async def send(self, envelope: Envelope) -> Receipt:
        if envelope.data.schema_uri is None:
            raise PermanentDeliveryError("form data names no schema; FIT-Connect requires one")
        check_limits(envelope.attachments)
        plan, key = await self._destination(envelope)
        ids, fragments, uploads = layout(envelope.attachments, plan.metadata_version)
        leika_urn = f"{metadata.LEIKA_URN_PREFIX}{envelope.service.leika_key}"
        # Hashing and RSA/AES over possibly large payloads: off the event loop.
        encrypted_metadata, encrypted_data = await asyncio.to_thread(
            self._encrypt_documents, envelope, plan, key, ids, fragments
        )
        announced: dict[str, Any] = {
            "destinationId": plan.destination_id,
            "announcedAttachments": [u.upload_id for u in uploads],
            "publicService": {
                "identifier": leika_urn,
                "name": envelope.service.name or leika_urn,
            },
        }
        if plan.region is not None:
            announced["region"] = plan.region
        if self.options.callback_url is not None and self.options.callback_secret is not None:
            announced["callbackInfo"] = {
                "url": str(self.options.callback_url),
                "secret": self.options.callback_secret.get_secret_value(),
            }
        created = await self._client.request(
            "POST", "/v2/submissions", what="create submission", json=announced
        )
        submission_id, case_id = _created_ids(json_of(created, "create submission"))
        for upload in uploads:
            attachment = envelope.attachments[upload.attachment]
            token = await asyncio.to_thread(encrypt_upload, attachment, upload, key)
            await self._client.request(
                "PUT",
                f"/v2/submissions/{submission_id}/attachments/{upload.upload_id}",
                what="upload attachment",
                content=token,
                content_type="application/jose",
            )
            del token
            if upload.end - upload.start >= _COLLECT_ABOVE_BYTES:
                # joserfc's JWE objects and httpx's request/response pairs hold reference cycles,
                # which only the cyclic collector frees; left to its allocation-count trigger,
                # every fragment's plaintext and ciphertext would stay until the whole
                # attachment had passed. One upload's buffers at a time, as promised.
                gc.collect()
        await self._client.request(
            "PUT",
            f"/v2/submissions/{submission_id}",
            what="submit submission",
            json={"encryptedMetadata": encrypted_metadata, "encryptedData": encrypted_data},
        )
        logger.info(
            "fitconnect.submitted",
            delivery_id=envelope.delivery_id,
            destination_id=plan.destination_id,
            submission_id=submission_id,
            case_id=case_id,
            attachments=len(ids),
            uploads=len(uploads),
            metadata_version=plan.metadata_version,
        )
        return Receipt(
            remote_reference=remote_reference(submission_id, case_id, plan.destination_id),
            detail=f"FIT-Connect submission {submission_id}, case {case_id}",
        )

    def _encrypt_documents(
        self,
        envelope: Envelope,
        plan: destination.Plan,
        key: RSAKey,
        ids: list[str],
        fragments: list[tuple[str, ...]],
    ) -> tuple[str, str]:
        entries = [
            metadata.AttachmentEntry(
                attachment_id=attachment_id,
                filename=a.filename,
                mime_type=a.mime_type,
                purpose=a.purpose,
                sha512=metadata.sha512_hex(a.content),
                fragments=fragment_ids,
            )
            for attachment_id, fragment_ids, a in zip(
                ids, fragments, envelope.attachments, strict=True
            )
        ]
        try:
            document = metadata.build(
                version=plan.metadata_version,
                leika_key=envelope.service.leika_key,
                service_name=envelope.service.name,
                data_sha512=metadata.sha512_hex(envelope.data.content),
                schema_uri_of_data=envelope.data.schema_uri or "",
                schema_mime_type=plan.schema_mime_type,
                attachments=entries,
                sender_reference=f"{envelope.application_id}/{envelope.delivery_id}",
                application_date=envelope.submitted_at.date().isoformat(),
            )
        except metadata.MetadataInvalid as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        meta = crypto.encrypt(
            json.dumps(document, ensure_ascii=False).encode("utf-8"),
            key,
            content_type="application/json",
        )
        data = crypto.encrypt(envelope.data.content, key, content_type=plan.schema_mime_type)
        return meta, data

    async def _destination(self, envelope: Envelope) -> tuple[destination.Plan, RSAKey]:
        destination_id = await self._destination_id(envelope)
        response = await self._client.request(
            "GET", f"/v2/destinations/{destination_id}", what="destination"
        )
        try:
            plan = destination.plan(
                json_of(response, "destination"),
                destination_id=destination_id,
                leika_key=envelope.service.leika_key,
                ars=envelope.region.ars,
                schema_uri=envelope.data.schema_uri or "",
                data_mime_type=envelope.data.mime_type,
                pinned_version=self.options.metadata_version,
            )
        except destination.DestinationRefused as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        return plan, await self._encryption_key(destination_id, plan.encryption_kid)

    async def _encryption_key(self, destination_id: str, kid: str) -> RSAKey:
        """The destination's key ``kid``, refused unless usable (in production: certified)."""
        key_response = await self._client.request(
            "GET", f"/v2/destinations/{destination_id}/keys/{kid}", what="encryption key"
        )
        jwk = json_of(key_response, "encryption key")
        try:
            if not isinstance(jwk, dict) or jwk.get("kid") != kid:
                raise crypto.KeyRejected("answer is not the requested key")
            return crypto.encryption_key(jwk, trusted=self._trusted)
        except crypto.KeyRejected as exc:
            raise PermanentDeliveryError(
                f"encryption key of destination {destination_id} refused: {exc}"
            ) from exc

    async def check(self) -> Receipt:
        """A route test must not put a ping submission into an authority's inbox: it goes as
        far as a delivery does before it creates one — a token for the client credentials, the
        destination active, its encryption key usable (certified, in production) — and submits
        nothing. With the Routing API instead of a fixed destination, which destination it is
        depends on each application's service and region, so only the token is checked."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._client.authenticate()
                if self.options.destination_id is None:
                    return Receipt(
                        detail="token obtained; the destination is found per application "
                        "through the Routing API, so none was read; nothing submitted"
                    )
                destination_id = str(self.options.destination_id)
                response = await self._client.request(
                    "GET", f"/v2/destinations/{destination_id}", what="destination"
                )
                try:
                    ready = destination.readiness(
                        json_of(response, "destination"), destination_id=destination_id
                    )
                except destination.DestinationRefused as exc:
                    raise PermanentDeliveryError(str(exc)) from exc
                await self._encryption_key(destination_id, ready.encryption_kid)
        except TimeoutError as exc:
            raise RetriableDeliveryError(
                f"FIT-Connect did not answer the check within {self.timeout:g} s"
            ) from exc
        return Receipt(
            status_code=response.status_code,
            detail=f"destination {destination_id} active for {len(ready.services)} service(s), "
            f"encryption key {ready.encryption_kid} accepted; nothing submitted",
        )

    async def _destination_id(self, envelope: Envelope) -> str:
        if self.options.destination_id is not None:
            return str(self.options.destination_id)
        assert self._router is not None  # the options insist on one of the two
        return await self._router.destination_id(envelope.service.leika_key, envelope.region.ars)

    async def aclose(self) -> None:
        await self._client.aclose()


def _created_ids(document: Any) -> tuple[str, str]:
    try:
        submission_id = str(uuid.UUID(str(document["submissionId"])))
        case_id = str(uuid.UUID(str(document["caseId"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise RetriableDeliveryError("FIT-Connect answered without submission or case id") from exc
    return submission_id, case_id
