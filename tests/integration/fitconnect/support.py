"""The fake Zustelldienst as the contract's back-end stand-in, and an independent decryptor.

Submissions are decrypted here with jwcrypto — the product encrypts with joserfc — so a round trip
proves the wire format, not one library's agreement with itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jwcrypto import jwe as jw_jwe
from jwcrypto import jwk as jw_jwk

from connectors.fitconnect import FitConnectConnector
from ozgbridge.connector import Connector, ConnectorContext
from ozgbridge.testing.contract import Received
from tests.fakes.zustelldienst import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeDestination,
    FakeSubmission,
    Zustelldienst,
    encryption_jwk,
    rsa_key,
    signature_jwk,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
CONTEXT = ConnectorContext(tenant_id="heinsberg", route_id="gewerbe", data_dir=Path("/nonexistent"))
GEWERBE = "99050012104000"
SCHEMA_URI = "urn:xoev-de:example:gewerbeanmeldung:1.0"


REGION_URN = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:"
# Kreis Heinsberg: covers every town's ARS (053700004004 Erkelenz, 053700016016 Heinsberg).
KREIS_HEINSBERG_REGION = f"{REGION_URN}05370"


def service(leika_key: str = GEWERBE, schema_uri: str = SCHEMA_URI) -> dict[str, Any]:
    """One entry of a v2 destination's ``publicServices``."""
    return {
        "identifier": f"urn:de:fim:leika:leistung:{leika_key}",
        "name": "Gewerbeanmeldung",
        "submissionSchemas": [{"schemaUri": schema_uri, "mimeType": "application/json"}],
        "regions": [KREIS_HEINSBERG_REGION],
    }


def jwcrypto_decrypt(
    token: str, name: str = "destination-encryption"
) -> tuple[bytes, dict[str, Any]]:
    key = jw_jwk.JWK(**rsa_key(name).as_dict(private=True))
    message = jw_jwe.JWE()
    try:
        message.deserialize(token, key=key)
    except jw_jwe.InvalidJWEData:
        # jwcrypto decrypts an empty plaintext (logging "Success") but then reports it as
        # "no recipient matched"; anything else is a real failure.
        if message.decryptlog != ["Success"]:
            raise
        return b"", dict(message.jose_header)
    return message.payload, dict(message.jose_header)


@dataclass(frozen=True)
class Opened:
    metadata: dict[str, Any]
    data: bytes
    data_header: dict[str, Any]
    attachments: list[tuple[dict[str, Any], bytes, dict[str, Any]]]  # (entry, bytes, header)


def open_submission(submission: FakeSubmission) -> Opened:
    assert submission.encrypted_metadata is not None
    assert submission.encrypted_data is not None
    raw_metadata, _ = jwcrypto_decrypt(submission.encrypted_metadata)
    document = json.loads(raw_metadata)
    data, data_header = jwcrypto_decrypt(submission.encrypted_data)
    attachments = []
    for entry in document["contentStructure"]["attachments"]:
        parts = [
            jwcrypto_decrypt(submission.attachments[upload_id])
            for upload_id in entry.get("fragments") or [entry["attachmentId"]]
        ]
        attachments.append((entry, b"".join(p for p, _ in parts), parts[0][1]))
    return Opened(document, data, data_header, attachments)


def official_validator(document: dict[str, Any]) -> Draft202012Validator:
    """A validator for the schema the metadata names in ``$schema``, read straight from the
    shipped file (not through the product's code)."""
    version = document["$schema"].split("/")[-2]
    path = REPO_ROOT / "connectors" / "fitconnect" / "schemas" / f"metadata.schema.v{version}.json"
    return Draft202012Validator(json.loads(path.read_text("utf-8")), format_checker=FormatChecker())


class FitConnectStandIn:
    """Implements the contract's `BackendStandIn` on a running fake Zustelldienst."""

    def __init__(self, service_api: Zustelldienst) -> None:
        self.zd = service_api
        self.destination: FakeDestination = service_api.add_destination(
            encryption_key=encryption_jwk(rsa_key("destination-encryption")),
            signature_keys=[signature_jwk(rsa_key("destination-signature"))],
            public_services=[service()],
        )
        self._connectors: list[Connector[Any]] = []

    def options(self, **overrides: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "submission_api_url": self.zd.url,
            "token_url": f"{self.zd.url}/token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "destination_id": self.destination.id,
        }
        options.update(overrides)
        return options

    def connector(self, *, timeout: float = 10.0, **overrides: Any) -> Connector[Any]:
        built = FitConnectConnector.from_config(
            self.options(**overrides), context=CONTEXT, timeout=timeout
        )
        self._connectors.append(built)
        return built

    async def aclose(self) -> None:
        for built in self._connectors:
            await built.aclose()

    async def received(self) -> list[Received]:
        received = []
        for submission in self.zd.submitted():
            opened = open_submission(submission)
            reference = opened.metadata["additionalReferenceInfo"]["senderReference"]
            application_id, delivery_id = reference.split("/")
            received.append(
                Received(
                    delivery_id=delivery_id,
                    application_id=application_id,
                    data=opened.data,
                    data_mime_type=opened.metadata["contentStructure"]["data"]["submissionSchema"][
                        "mimeType"
                    ],
                    attachments=tuple(content for _, content, _ in opened.attachments),
                )
            )
        return received

    @asynccontextmanager
    async def stalled(self) -> AsyncIterator[None]:
        self.zd.stall = True
        try:
            yield
        finally:
            self.zd.stall = False
            self.zd._release.set()

    @asynccontextmanager
    async def failing(self) -> AsyncIterator[None]:
        self.zd.failing_status = 503
        try:
            yield
        finally:
            self.zd.failing_status = None


def jwcrypto_encrypt(payload: bytes, cty: str, name: str = "destination-encryption") -> str:
    """A FIT-Connect JWE made by jwcrypto, as another sender's software would make it."""
    public = jw_jwk.JWK(**rsa_key(name).as_dict(private=False))
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": public["kid"], "cty": cty}
    token = jw_jwe.JWE(payload, protected=json.dumps(header))
    token.add_recipient(public)
    return str(token.serialize(compact=True))


def inject(
    zd: Zustelldienst,
    destination: FakeDestination,
    *,
    document: dict[str, Any],
    data: bytes | None,
    attachments: dict[str, bytes] | None = None,
    public_service: dict[str, Any] | None = None,
    submit_event: bool = True,
) -> FakeSubmission:
    """A submitted submission as another sender would leave it at the Zustelldienst, with the
    Zustelldienst's own create- and submit-submission events."""
    uploads = {
        aid: jwcrypto_encrypt(content, "application/pdf")
        for aid, content in (attachments or {}).items()
    }
    submission = FakeSubmission(
        id=str(uuid.uuid4()),
        case_id=str(uuid.uuid4()),
        destination_id=destination.id,
        sender=CLIENT_ID,
        announced=list(uploads),
        public_service=public_service
        or {"identifier": f"urn:de:fim:leika:leistung:{GEWERBE}", "name": "Gewerbeanmeldung"},
        region=None,
        callback=None,
        attachments=uploads,
        encrypted_metadata=jwcrypto_encrypt(json.dumps(document).encode(), "application/json"),
        encrypted_data=jwcrypto_encrypt(data, "application/json") if data is not None else None,
    )
    zd.submissions[submission.id] = submission
    zd.log_event(submission, zd.sign_event(submission, "create-submission", {}, zd.key))
    tags: dict[str, Any] = {
        "metadata": submission.encrypted_metadata.rsplit(".", 1)[1],  # type: ignore[union-attr]
        "attachments": {aid: token.rsplit(".", 1)[1] for aid, token in uploads.items()},
    }
    if submission.encrypted_data is not None:
        tags["data"] = submission.encrypted_data.rsplit(".", 1)[1]
    submission.tags = tags
    if submit_event:
        payload = {"authenticationTags": tags}
        zd.log_event(submission, zd.sign_event(submission, "submit-submission", payload, zd.key))
    return submission
