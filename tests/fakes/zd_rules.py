"""What the fake Zustelldienst demands of requests: pure checks, each from a public source.

Written from FIT-Connect's published material, not from ozgbridge's connector (sources in
``tests/fakes/README.md``). Each check returns ``None`` or the reason a real Zustelldienst would
refuse; the server turns that into a status code.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

EVENT = "https://schema.fitko.de/fit-connect/events/"
PROBLEMS = "https://schema.fitko.de/fit-connect/events/problems/"
SET_SCHEMA = "https://schema.fitko.de/fit-connect/set-payload/1.0.0/set-payload.schema.json"
REGION_URN = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:"
# submission-api README ("Magic numbers"): a compact JWE with A256GCM / RSA-OAEP-256 and a
# 4096-bit key is at least 776 characters long, even with an empty payload.
MIN_JWE_LENGTH = 776
# Create-submission fields of the v2 API (PHP client optiGov/php-fitconnect Client.php and the
# TypeScript client in klarbau/govtech-de send destinationId, announcedAttachments,
# publicService {name, identifier}, region; callbackInfo from FITKO's submission-api.yaml).
ANNOUNCE_FIELDS = {
    "destinationId",
    "announcedAttachments",
    "publicService",
    "region",
    "callbackInfo",
}
# Finalize: metadata and data must declare JSON or XML as cty (422 otherwise, observed against
# the test environment and noted in klarbau/govtech-de scripts/fc-live.mjs).
DOCUMENT_CTYS = ("application/json", "application/xml")


def b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == str(value).lower()
    except ValueError:
        return False


def jwe_problem(token: Any, *, kid: str, ctys: tuple[str, ...] | None = None) -> str | None:
    """FIT-Connect's JWE profile: compact, alg RSA-OAEP-256, enc A256GCM, the destination's
    encryption kid, a cty, no zip (docs.fitko.de "Verschlüsselte Übertragung")."""
    if not isinstance(token, str) or token.count(".") != 4:
        return "not a compact JWE"
    if len(token) < MIN_JWE_LENGTH:
        return f"JWE shorter than {MIN_JWE_LENGTH} characters"
    try:
        header = b64json(token.split(".", 1)[0])
    except ValueError:
        return "JWE header unreadable"
    if not isinstance(header, dict):
        return "JWE header is not an object"
    if header.get("alg") != "RSA-OAEP-256" or header.get("enc") != "A256GCM":
        return "JWE must use RSA-OAEP-256 and A256GCM"
    if header.get("kid") != kid:
        return "JWE is not encrypted to the destination's encryption key"
    if "zip" in header:
        return "JWE must not be compressed"
    cty = header.get("cty")
    if not isinstance(cty, str) or not cty:
        return "JWE header has no cty"
    if ctys is not None and cty not in ctys:
        return f"JWE cty must be one of {', '.join(ctys)}"
    return None


def announce_problem(
    body: Any, services: list[dict[str, Any]], max_count: int
) -> tuple[int, str] | None:
    """The create-submission body against the destination's public services."""
    if not isinstance(body, dict):
        return 400, "body is not an object"
    unknown = set(body) - ANNOUNCE_FIELDS
    if unknown:
        return 400, f"unknown fields: {', '.join(sorted(unknown))}"
    announced = body.get("announcedAttachments")
    if not isinstance(announced, list) or not all(is_uuid(a) for a in announced):
        return 400, "announcedAttachments must be a list of UUIDs"
    if len(set(announced)) != len(announced):
        return 400, "announcedAttachments must be unique"
    if len(announced) > max_count:
        return 413, f"at most {max_count} attachments"
    public = body.get("publicService")
    if not isinstance(public, dict) or not all(
        isinstance(public.get(k), str) and public.get(k) for k in ("identifier", "name")
    ):
        return 400, "publicService {name, identifier} required"
    service = next((s for s in services if s.get("identifier") == public["identifier"]), None)
    if service is None:
        return 422, "publicService is not offered by the destination"
    region = body.get("region")
    if region is not None and (
        not isinstance(region, str)
        or not region.startswith(REGION_URN)
        or region not in (service.get("regions") or [])
    ):
        return 422, "region is not one of the destination's regions for the service"
    callback = body.get("callbackInfo")
    if callback is not None and (
        not isinstance(callback, dict)
        or not str(callback.get("url", "")).startswith("https://")
        or not isinstance(callback.get("secret"), str)
    ):
        return 400, "callbackInfo needs an https url and a secret"
    return None


def set_claims(token: str, key: RSAKey) -> tuple[dict[str, Any] | None, str | None]:
    """The claims of a SET signed PS512 with ``key`` (typ secevent+jwt), or the reason not."""
    try:
        header = b64json(token.split(".", 1)[0])
    except (ValueError, IndexError):
        return None, "SET header unreadable"
    if header.get("alg") != "PS512" or header.get("typ") != "secevent+jwt":
        return None, "SET must be PS512 with typ secevent+jwt"
    try:
        claims = json.loads(jws.deserialize_compact(token, key, algorithms=["PS512"]).payload)
    except (JoseError, ValueError):
        return None, "SET signature does not verify"
    return (claims, None) if isinstance(claims, dict) else (None, "SET payload is no object")


def event_problem(
    claims: dict[str, Any], *, destination_id: str, submission_id: str, case_id: str, tags: Any
) -> str | None:
    """A destination's event about a submission (FITKO docs "Ereignisse", "Empfangsbestätigung")."""
    if claims.get("$schema") != SET_SCHEMA:
        return "SET $schema is not the set-payload schema"
    if not is_uuid(claims.get("jti")) or not isinstance(claims.get("iat"), int):
        return "SET needs a UUID jti and an integer iat"
    if claims.get("iss") != destination_id:
        return "SET iss must be the destination id"
    if claims.get("sub") != f"submission:{submission_id}" or claims.get("txn") != f"case:{case_id}":
        return "SET sub/txn do not name this submission and case"
    events = claims.get("events")
    if not isinstance(events, dict) or len(events) != 1:
        return "SET must carry exactly one event"
    [(uri, payload)] = events.items()
    if uri == EVENT + "accept-submission":
        if not isinstance(payload, dict) or payload.get("authenticationTags") != tags:
            return "accept-submission must repeat the submission's authentication tags"
        return None
    if uri == EVENT + "reject-submission":
        problems = payload.get("problems") if isinstance(payload, dict) else None
        if not isinstance(problems, list) or not problems:
            return "reject-submission needs problems"
        for problem in problems:
            if not isinstance(problem, dict) or not str(problem.get("type", "")).startswith(
                PROBLEMS
            ):
                return "problem type outside FIT-Connect's catalogue"
            if not problem.get("title") or not problem.get("instance"):
                return "problem needs title and instance"
        return None
    return "a destination may only post accept-submission or reject-submission"


def authentication_tags(metadata: str, data: str, attachments: dict[str, str]) -> dict[str, Any]:
    """``submit-submission``'s payload: the last part of each JWE the Zustelldienst took."""
    return {
        "authenticationTags": {
            "metadata": metadata.rsplit(".", 1)[1],
            "data": data.rsplit(".", 1)[1],
            "attachments": {aid: token.rsplit(".", 1)[1] for aid, token in attachments.items()},
        }
    }
