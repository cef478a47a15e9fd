"""A case's event log: Security Event Tokens, verified, read as what happened to a submission.

``GET /v2/cases/{caseId}/events?offset=&limit=`` answers a page ``{offset, count, totalCount,
eventLog}`` (limit at most 500, like every FIT-Connect list; routing-api.yaml's ``limit``
parameter and the Submission API's lists share that paging); the log is read page by page.

Every token is verified before anything in it is believed: PS512, ``typ`` secevent+jwt, the
signer's key by ``kid`` — the Zustelldienst's own key from its JWKS for events it issues, the
destination's signature key for events a destination issues (``iss`` = destination id). ``sub``
is ``submission:<id>`` for the submission's events, or ``reply:<id>`` for replies in the same case
(FITKO docs, "Ereignisse"): both are genuine, only the former decide the submission's status. A
token that does not verify, or speaks about another submission or case, is refused: logged and
audited by the caller, never turned into a status.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from connectors.fitconnect import crypto
from connectors.fitconnect.client import FitConnectClient, json_of
from ozgbridge.errors import DeliveryError, RetriableDeliveryError

EVENT_PREFIX = "https://schema.fitko.de/fit-connect/events/"
ACCEPT = "accept-submission"
REJECT = "reject-submission"
SUBMIT = "submit-submission"
PAGE_LIMIT = 500
SET_SCHEMA = "https://schema.fitko.de/fit-connect/set-payload/1.0.0/set-payload.schema.json"


@dataclass(frozen=True)
class VerifiedEvent:
    name: str  # e.g. "accept-submission"
    subject: str  # "submission:<id>" or "reply:<id>"
    issuer: str
    jti: str
    issued_at: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class RefusedEvent:
    index: int
    reason: str


@dataclass
class EventLog:
    verified: list[VerifiedEvent] = field(default_factory=list)
    refused: list[RefusedEvent] = field(default_factory=list)

    def outcome(self) -> VerifiedEvent | None:
        """The destination's verdict (accept or reject) on the submission, if given."""
        return next(
            (
                e
                for e in self.verified
                if e.name in (ACCEPT, REJECT) and e.subject.startswith("submission:")
            ),
            None,
        )

    def submitted(self) -> VerifiedEvent | None:
        """The Zustelldienst's own ``submit-submission`` event about the submission."""
        return next(
            (
                e
                for e in self.verified
                if e.name == SUBMIT
                and e.subject.startswith("submission:")
                and not _is_uuid(e.issuer)
            ),
            None,
        )


class EventVerifier:
    """Verifies SETs of one Submission API, fetching (and caching) the keys it needs."""

    def __init__(self, client: FitConnectClient) -> None:
        self._client = client
        self._service_keys: KeySet | None = None
        self._destination_keys: dict[tuple[str, str], RSAKey] = {}

    async def read(
        self, *, case_id: str, submission_id: str, destination_id: str, start: int = 0
    ) -> tuple[EventLog, int]:
        """Events from index ``start`` on, and the log's length (the next ``start``)."""
        tokens = await self._tokens(case_id, start)
        log = EventLog()
        for index, token in enumerate(tokens, start=start):
            try:
                log.verified.append(
                    await self.verify(
                        token,
                        case_id=case_id,
                        submission_id=submission_id,
                        destination_id=destination_id,
                    )
                )
            except crypto.CryptoFailure as exc:
                log.refused.append(RefusedEvent(index=index, reason=str(exc)))
        return log, start + len(tokens)

    async def _tokens(self, case_id: str, start: int) -> list[Any]:
        tokens: list[Any] = []
        offset = start
        while True:
            response = await self._client.request(
                "GET",
                f"/v2/cases/{case_id}/events",
                what="events",
                params={"offset": offset, "limit": PAGE_LIMIT},
            )
            document = json_of(response, "events")
            page = document.get("eventLog") if isinstance(document, dict) else None
            total = document.get("totalCount") if isinstance(document, dict) else None
            if not isinstance(page, list):
                raise RetriableDeliveryError("unreadable event log page from FIT-Connect")
            tokens += page
            offset += len(page)
            if not page or not isinstance(total, int) or offset >= total:
                return tokens

    async def verify(
        self, token: Any, *, case_id: str, submission_id: str, destination_id: str
    ) -> VerifiedEvent:
        if not isinstance(token, str):
            raise crypto.CryptoFailure("event is not a compact JWS")
        header = crypto.set_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise crypto.CryptoFailure("SET names no kid")
        claims = crypto.verify_set(token, await self._key_for(token, kid, destination_id))
        subject = claims.get("sub")
        is_reply = (
            isinstance(subject, str) and subject.startswith("reply:") and _is_uuid(subject[6:])
        )
        if subject != f"submission:{submission_id}" and not is_reply:
            raise crypto.CryptoFailure("SET is about another submission")
        if claims.get("txn") != f"case:{case_id}":
            raise crypto.CryptoFailure("SET is about another case")
        events = claims.get("events")
        if not isinstance(events, dict) or len(events) != 1:
            raise crypto.CryptoFailure("SET must carry exactly one event")
        [(uri, payload)] = events.items()
        if not isinstance(uri, str) or not uri.startswith(EVENT_PREFIX):
            raise crypto.CryptoFailure("SET carries an unknown event")
        return VerifiedEvent(
            name=uri.removeprefix(EVENT_PREFIX),
            subject=str(subject),
            issuer=str(claims.get("iss")),
            jti=str(claims.get("jti")),
            issued_at=int(claims.get("iat") or 0),
            payload=payload if isinstance(payload, dict) else {},
        )

    async def _key_for(self, token: str, kid: str, destination_id: str) -> KeySet | RSAKey:
        # The issuer decides where the key must come from, so it is read before verifying —
        # and then confirmed by the signature: a forged iss cannot pick a key that signs. About
        # the submission only the case's own destination may speak, besides the Zustelldienst;
        # events about a reply may come from the replying side's destination.
        issuer, subject = _unverified_issuer(token)
        if _is_uuid(issuer):
            if issuer != destination_id and not subject.startswith("reply:"):
                raise crypto.CryptoFailure("SET is issued by another destination")
            return await self._destination_key(issuer, kid)
        return await self._service_key_set()

    async def _destination_key(self, destination_id: str, kid: str) -> RSAKey:
        cached = self._destination_keys.get((destination_id, kid))
        if cached is not None:
            return cached
        if "/" in kid:
            raise crypto.CryptoFailure("SET kid is not a key id")
        try:
            response = await self._client.request(
                "GET", f"/v2/destinations/{destination_id}/keys/{kid}", what="signature key"
            )
            jwk = json_of(response, "signature key")
        except DeliveryError as exc:
            raise crypto.CryptoFailure(f"signature key not available ({exc.detail})") from exc
        if not isinstance(jwk, dict) or jwk.get("alg") != crypto.SET_ALG:
            raise crypto.CryptoFailure("destination key is not a PS512 signature key")
        if "verify" not in (jwk.get("key_ops") or ()):
            raise crypto.CryptoFailure("destination key does not allow verify")
        members = {k: v for k, v in jwk.items() if k != "key_ops"}
        try:
            key = RSAKey.import_key(members)
        except (JoseError, ValueError, TypeError) as exc:
            raise crypto.CryptoFailure("destination signature key cannot be read") from exc
        if key.raw_value.key_size < crypto.MIN_RSA_BITS:
            raise crypto.CryptoFailure("destination signature key is too short")
        if jwk.get("e") != crypto.RSA_EXPONENT:
            raise crypto.CryptoFailure("destination signature key exponent is not AQAB")
        self._destination_keys[(destination_id, kid)] = key
        return key

    async def _service_key_set(self) -> KeySet:
        if self._service_keys is None:
            try:
                response = await self._client.get_public(
                    f"{self._client.api_url}/.well-known/jwks.json", what="jwks", params={}
                )
                document = response.json()
                keys = [
                    {k: v for k, v in jwk.items() if k != "key_ops"}
                    for jwk in document.get("keys", [])
                    if isinstance(jwk, dict) and jwk.get("alg") == crypto.SET_ALG
                ]
                self._service_keys = KeySet.import_key_set({"keys": keys})
            except (DeliveryError, JoseError, ValueError, TypeError, AttributeError) as exc:
                raise crypto.CryptoFailure("the Zustelldienst's JWKS is not available") from exc
        return self._service_keys


def _unverified_issuer(token: str) -> tuple[str, str]:
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError) as exc:
        raise crypto.CryptoFailure("SET payload cannot be read") from exc
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(issuer, str):
        raise crypto.CryptoFailure("SET names no issuer")
    subject = claims.get("sub")
    return issuer, subject if isinstance(subject, str) else ""


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def problems_of(event: VerifiedEvent) -> list[dict[str, str]]:
    """The problems of a reject-submission event, reduced to their standard, non-personal parts."""
    found = []
    for problem in event.payload.get("problems") or []:
        if isinstance(problem, dict):
            found.append(
                {
                    key: str(problem[key])[:300]
                    for key in ("type", "title", "instance")
                    if key in problem
                }
            )
    return found
