"""A local fake FIT-Connect Zustelldienst (Submission API v2), an aiohttp server on 127.0.0.1.

Shaped after the published API: the OAuth2 token endpoint (client credentials), destinations and
their keys, submissions with announced attachments, the case event log with Security Event Tokens
signed by the service's own key (JWKS at ``/.well-known/jwks.json``), the subscriber's side
(list, fetch, download, post ``accept-submission``/``reject-submission``), a Routing API
(``/routing/routes``) and callbacks (``callback-authentication`` HMAC-SHA512 over
``"{timestamp}.{body}"``). It is written from the specification, independently of the product:
it checks what a real Zustelldienst checks (token, announced attachments, JWE shape, event
signatures) and answers with its status codes.

Switches for tests: `fail_next` (answer the next requests with a status), `failing_status`
(answer every API request with it), `stall` (accept, never answer), `revoke_tokens` (every
issued token is now refused with 401, as after a rotation).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jws
from joserfc.jwk import RSAKey

ISSUER = "https://api.fitko.de/fit-connect/"
EVENT = "https://schema.fitko.de/fit-connect/events/"
SET_SCHEMA = "https://schema.fitko.de/fit-connect/set-payload/1.0.0/set-payload.schema.json"
CLIENT_ID = "sender-client"
CLIENT_SECRET = "sender-secret-not-real"
SUBSCRIBER_ID = "subscriber-client"
SUBSCRIBER_SECRET = "subscriber-secret-not-real"


@cache
def rsa_key(name: str, bits: int = 4096) -> RSAKey:
    """A private RSA key per name, made once per test session (4096 bits is slow to make)."""
    return RSAKey.generate_key(bits, private=True, parameters={"kid": f"{name}-{uuid.uuid4()}"})


def encryption_jwk(key: RSAKey, **overrides: Any) -> dict[str, Any]:
    jwk = {**key.as_dict(private=False), "alg": "RSA-OAEP-256", "key_ops": ["wrapKey"]}
    jwk.pop("use", None)
    jwk.update(overrides)
    return jwk


def signature_jwk(key: RSAKey) -> dict[str, Any]:
    jwk = {**key.as_dict(private=False), "alg": "PS512", "key_ops": ["verify"]}
    jwk.pop("use", None)
    return jwk


def callback_signature(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest()


@dataclass
class FakeDestination:
    id: str
    encryption_key: dict[str, Any]
    signature_keys: dict[str, dict[str, Any]]
    services: list[dict[str, Any]]
    status: str = "active"
    callback: tuple[str, str] | None = None  # (url, secret) for new-submission callbacks


@dataclass
class FakeSubmission:
    id: str
    case_id: str
    destination_id: str
    announced: list[str]
    service_type: dict[str, Any]
    callback: dict[str, Any] | None
    attachments: dict[str, str] = field(default_factory=dict)
    encrypted_metadata: str | None = None
    encrypted_data: str | None = None
    fetched: bool = False

    @property
    def submitted(self) -> bool:
        return self.encrypted_data is not None


class Zustelldienst:
    def __init__(self) -> None:
        self.key = rsa_key("zustelldienst")
        self.destinations: dict[str, FakeDestination] = {}
        self.submissions: dict[str, FakeSubmission] = {}
        self.events: dict[str, list[str]] = {}  # case id -> SETs, oldest first
        self.routes: dict[tuple[str, str], str] = {}  # (leika, ars) -> destination id
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, expiry)
        self.token_lifetime = 300
        self.token_requests = 0
        self.refused_tokens = 0
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        self.stall = False
        self.event_posts_failing = 0  # the next N posted events are answered 503
        self.failing_status: int | None = None  # while set, every API request answers it
        self.requests: list[tuple[str, str]] = []
        self._release = asyncio.Event()
        self.callbacks_sent: list[tuple[str, int]] = []
        app = web.Application(client_max_size=256 * 1024 * 1024, middlewares=[self._middleware])
        r = app.router
        r.add_post("/token", self._token)
        r.add_get("/.well-known/jwks.json", self._jwks)
        r.add_get("/routing/routes", self._routing)
        r.add_get("/v2/destinations/{id}", self._destination)
        r.add_get("/v2/destinations/{id}/keys/{kid}", self._destination_key)
        r.add_post("/v2/submissions", self._create)
        r.add_get("/v2/submissions", self._list)
        r.add_put("/v2/submissions/{id}/attachments/{aid}", self._upload)
        r.add_get("/v2/submissions/{id}/attachments/{aid}", self._download)
        r.add_put("/v2/submissions/{id}", self._submit)
        r.add_get("/v2/submissions/{id}", self._fetch)
        r.add_get("/v2/cases/{id}/events", self._event_log)
        r.add_post("/v2/cases/{id}/events", self._post_event)
        self._server = TestServer(app, host="127.0.0.1")

    # -- life cycle and switches ----------------------------------------------------------------

    async def start(self) -> None:
        await self._server.start_server()

    async def close(self) -> None:
        self._release.set()
        await self._server.close()

    @property
    def url(self) -> str:
        return str(self._server.make_url("")).rstrip("/")

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        for _ in range(times):
            self.failures.append((status, headers or {}))

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def add_destination(
        self,
        *,
        encryption_key: dict[str, Any],
        services: list[dict[str, Any]],
        signature_keys: Sequence[dict[str, Any]] = (),
        status: str = "active",
        destination_id: str | None = None,
    ) -> FakeDestination:
        destination = FakeDestination(
            id=destination_id or str(uuid.uuid4()),
            encryption_key=encryption_key,
            signature_keys={k["kid"]: k for k in signature_keys},
            services=services,
            status=status,
        )
        self.destinations[destination.id] = destination
        return destination

    # -- what tests read ------------------------------------------------------------------------

    def submitted(self) -> list[FakeSubmission]:
        return [s for s in self.submissions.values() if s.submitted]

    def event_names(self, case_id: str) -> list[str]:
        names = []
        for token in self.events.get(case_id, []):
            payload = token.split(".")[1]
            claims = json.loads(_b64decode(payload))
            names += [name.removeprefix(EVENT) for name in claims["events"]]
        return names

    def event_claims(self, case_id: str, name: str) -> dict[str, Any]:
        for token in self.events.get(case_id, []):
            claims = json.loads(_b64decode(token.split(".")[1]))
            if EVENT + name in claims["events"]:
                return dict(claims)
        raise KeyError(name)

    def sign_event(
        self,
        submission: FakeSubmission,
        name: str,
        payload: dict[str, Any],
        key: RSAKey,
        *,
        issuer: str | None = None,
    ) -> str:
        claims = {
            "$schema": SET_SCHEMA,
            "jti": str(uuid.uuid4()),
            "iss": issuer or (ISSUER if key is self.key else submission.destination_id),
            "iat": int(time.time()),
            "sub": f"submission:{submission.id}",
            "txn": f"case:{submission.case_id}",
            "events": {EVENT + name: payload},
        }
        header = {"alg": "PS512", "typ": "secevent+jwt", "kid": key.kid}
        return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["PS512"])

    def log_event(self, submission: FakeSubmission, token: str) -> None:
        self.events.setdefault(submission.case_id, []).append(token)

    async def send_callback(self, url: str, secret: str, body: dict[str, Any]) -> int:
        raw = json.dumps(body).encode()
        timestamp = str(int(time.time()))
        headers = {
            "callback-authentication": callback_signature(secret, timestamp, raw),
            "callback-timestamp": timestamp,
            "Content-Type": "application/json",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=raw, headers=headers) as response,
        ):
            self.callbacks_sent.append((url, response.status))
            return response.status

    # -- plumbing -------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if self.stall:
            await self._release.wait()
        if self.failing_status is not None and request.path != "/token":
            return web.json_response({"title": "simulated"}, status=self.failing_status)
        if self.failures and request.path != "/token":
            status, headers = self.failures.popleft()
            return web.json_response({"title": "simulated"}, status=status, headers=headers)
        if request.path.startswith("/v2/"):
            auth = request.headers.get("Authorization", "")
            entry = self.tokens.get(auth.removeprefix("Bearer "))
            if not auth.startswith("Bearer ") or entry is None or entry[1] < time.time():
                self.refused_tokens += 1
                return web.json_response({"title": "invalid token"}, status=401)
        return await handler(request)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_requests += 1
        known = {CLIENT_ID: CLIENT_SECRET, SUBSCRIBER_ID: SUBSCRIBER_SECRET}
        client = str(form.get("client_id"))
        if form.get("grant_type") != "client_credentials" or known.get(client) != form.get(
            "client_secret"
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (client, time.time() + self.token_lifetime)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [signature_jwk(self.key)]})

    async def _routing(self, request: web.Request) -> web.Response:
        key = (request.query.get("leikaKey", ""), request.query.get("ars", ""))
        found = self.routes.get(key)
        routes = [{"destinationId": found, "destinationSignature": "x.y.z"}] if found else []
        return web.json_response(
            {"count": len(routes), "offset": 0, "totalCount": len(routes), "routes": routes}
        )

    def _dest(self, request: web.Request) -> FakeDestination:
        destination = self.destinations.get(request.match_info["id"])
        if destination is None:
            raise web.HTTPNotFound()
        return destination

    async def _destination(self, request: web.Request) -> web.Response:
        d = self._dest(request)
        return web.json_response(
            {
                "destinationId": d.id,
                "status": d.status,
                "services": d.services,
                "encryptionKid": d.encryption_key["kid"],
                "metadataVersions": ["1.0.0"],
            }
        )

    async def _destination_key(self, request: web.Request) -> web.Response:
        d = self._dest(request)
        kid = request.match_info["kid"]
        if kid == d.encryption_key["kid"]:
            return web.json_response(d.encryption_key)
        if kid in d.signature_keys:
            return web.json_response(d.signature_keys[kid])
        raise web.HTTPNotFound()

    def _submission(self, request: web.Request) -> FakeSubmission:
        submission = self.submissions.get(request.match_info["id"])
        if submission is None:
            raise web.HTTPNotFound()
        return submission

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        destination = self.destinations.get(body.get("destinationId"))
        if destination is None:
            return web.json_response({"title": "unknown destination"}, status=404)
        if destination.status != "active":
            return web.json_response({"title": "destination not active"}, status=422)
        announced = body.get("announcedAttachments", [])
        if any(not _is_uuid(a) for a in announced) or len(set(announced)) != len(announced):
            return web.json_response({"title": "bad attachment ids"}, status=400)
        submission = FakeSubmission(
            id=str(uuid.uuid4()),
            case_id=str(uuid.uuid4()),
            destination_id=destination.id,
            announced=announced,
            service_type=body.get("serviceType", {}),
            callback=body.get("callbackInfo"),
        )
        self.submissions[submission.id] = submission
        self.log_event(submission, self.sign_event(submission, "create-submission", {}, self.key))
        return web.json_response(
            {
                "destinationId": destination.id,
                "submissionId": submission.id,
                "caseId": submission.case_id,
            },
            status=201,
        )

    async def _upload(self, request: web.Request) -> web.Response:
        submission = self._submission(request)
        attachment_id = request.match_info["aid"]
        if attachment_id not in submission.announced or submission.submitted:
            return web.json_response({"title": "not announced"}, status=404)
        if request.content_type != "application/jose":
            return web.json_response({"title": "not application/jose"}, status=415)
        token = await request.text()
        if token.count(".") != 4:
            return web.json_response({"title": "not a compact JWE"}, status=400)
        submission.attachments[attachment_id] = token
        return web.Response(status=204)

    async def _submit(self, request: web.Request) -> web.Response:
        submission = self._submission(request)
        body = await request.json()
        missing = set(submission.announced) - set(submission.attachments)
        if missing:
            return web.json_response({"title": "attachments missing"}, status=422)
        for name in ("encryptedMetadata", "encryptedData"):
            if str(body.get(name, "")).count(".") != 4:
                return web.json_response({"title": f"{name} is no JWE"}, status=400)
        submission.encrypted_metadata = body["encryptedMetadata"]
        submission.encrypted_data = body["encryptedData"]
        self.log_event(submission, self.sign_event(submission, "submit-submission", {}, self.key))
        destination = self.destinations[submission.destination_id]
        if destination.callback is not None:
            url, secret = destination.callback
            await self.send_callback(
                url,
                secret,
                {
                    "type": "https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions",
                    "submissionIds": [submission.id],
                },
            )
        return web.json_response({"submissionId": submission.id}, status=202)

    async def _list(self, request: web.Request) -> web.Response:
        destination_id = request.query.get("destinationId")
        pending = [
            {"destinationId": s.destination_id, "submissionId": s.id, "caseId": s.case_id}
            for s in self.submissions.values()
            if s.submitted and s.destination_id == destination_id and not self._finished(s)
        ]
        return web.json_response(
            {"count": len(pending), "offset": 0, "totalCount": len(pending), "submissions": pending}
        )

    def _finished(self, submission: FakeSubmission) -> bool:
        names = self.event_names(submission.case_id)
        return "accept-submission" in names or "reject-submission" in names

    async def _fetch(self, request: web.Request) -> web.Response:
        s = self._submission(request)
        if not s.submitted:
            return web.json_response({"title": "not submitted"}, status=404)
        s.fetched = True
        return web.json_response(
            {
                "destinationId": s.destination_id,
                "submissionId": s.id,
                "caseId": s.case_id,
                "attachments": s.announced,
                "encryptedMetadata": s.encrypted_metadata,
                "encryptedData": s.encrypted_data,
                "serviceType": s.service_type,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        s = self._submission(request)
        token = s.attachments.get(request.match_info["aid"])
        if token is None:
            raise web.HTTPNotFound()
        return web.Response(text=token, content_type="application/jose")

    async def _event_log(self, request: web.Request) -> web.Response:
        return web.json_response({"eventLog": self.events.get(request.match_info["id"], [])})

    async def _post_event(self, request: web.Request) -> web.Response:
        case_id = request.match_info["id"]
        submission = next((s for s in self.submissions.values() if s.case_id == case_id), None)
        if submission is None:
            raise web.HTTPNotFound()
        if self.event_posts_failing > 0:
            self.event_posts_failing -= 1
            return web.json_response({"title": "simulated"}, status=503)
        if request.content_type != "application/jose":
            return web.json_response({"title": "not application/jose"}, status=415)
        token = await request.text()
        destination = self.destinations[submission.destination_id]
        header = json.loads(_b64decode(token.split(".")[0]))
        jwk = destination.signature_keys.get(header.get("kid"))
        if jwk is None:
            return web.json_response({"title": "unknown signature key"}, status=422)
        try:
            jws.deserialize_compact(token, RSAKey.import_key(jwk), algorithms=["PS512"])
        except Exception:
            return web.json_response({"title": "bad signature"}, status=422)
        self.log_event(submission, token)
        return web.Response(status=204)


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
