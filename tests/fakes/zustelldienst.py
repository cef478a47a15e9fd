"""A fake FIT-Connect Zustelldienst (Submission API v2) on a real socket (aiohttp, 127.0.0.1).

Built from FIT-Connect's public sources, not from ozgbridge's connector: each behaviour and its
source is listed in ``tests/fakes/README.md``; the request checks are in `zd_rules`, the Routing
API in `routing_service`. Tokens carry a role: a sender token may create, upload and submit, and
read its own cases' events; a subscriber token may list, fetch and download its destination's
submissions and post events — each gets 403 for the other's endpoints.

Switches for tests: `fail_next` (answer the next requests with a status), `failing_status`
(answer every API request with it), `stall` (accept, never answer), `revoke_tokens` (every
issued token is now refused with 401), `event_posts_failing` (the next posted events get 503).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jws
from joserfc.jwk import RSAKey

from tests.fakes import zd_rules as rules
from tests.fakes.fitconnect_keys import (
    callback_signature,
    encryption_jwk,
    rsa_key,
    signature_jwk,
)
from tests.fakes.routing_service import RoutingService
from tests.fakes.zd_receiving import CLIENT, CLIENT_ID, ReceivingSide
from tests.fakes.zd_sending import SendingSide
from tests.fakes.zd_state import FakeDestination, FakeSubmission

__all__ = [
    "FakeDestination",
    "FakeSubmission",
    "callback_signature",
    "encryption_jwk",
    "rsa_key",
    "signature_jwk",
]

ISSUER = "https://submission-api.fake.invalid/"
EVENT = rules.EVENT
SET_SCHEMA = rules.SET_SCHEMA
CLIENT_SECRET = "sender-secret-not-real"
SUBSCRIBER_ID = "subscriber-client"
SUBSCRIBER_SECRET = "subscriber-secret-not-real"
NEW_SUBMISSIONS = "https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions"
MiB = 1024 * 1024


class Zustelldienst(SendingSide, ReceivingSide):
    def __init__(self) -> None:
        self.key = rsa_key("zustelldienst")
        self.routing = RoutingService()
        self.destinations: dict[str, FakeDestination] = {}
        self.submissions: dict[str, FakeSubmission] = {}
        self.events: dict[str, list[str]] = {}  # case id -> SETs, oldest first
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, expiry)
        self.token_lifetime = 300
        self.token_requests = 0
        self.refused_tokens = 0
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        self.stall = False
        self.event_posts_failing = 0
        self.failing_status: int | None = None
        self.requests: list[tuple[str, str]] = []
        self.refusals: list[tuple[str, int, str]] = []  # (path, status, reason)
        self.callbacks_sent: list[tuple[str, int]] = []
        self.max_upload_bytes = 200 * MiB
        self.max_attachments = 100
        self._release = asyncio.Event()
        app = web.Application(client_max_size=1024 * MiB, middlewares=[self._middleware])
        r = app.router
        r.add_post("/token", self._token)
        r.add_get("/.well-known/jwks.json", self._jwks)
        r.add_get("/routing/routes", self.routing.handle_routes)
        r.add_get("/ssp/.well-known/jwks.json", self.routing.handle_jwks)
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
        self.routing.submission_host = f"127.0.0.1:{self._server.port}"

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
        public_services: list[dict[str, Any]],
        signature_keys: Sequence[dict[str, Any]] = (),
        status: str = "active",
        destination_id: str | None = None,
    ) -> FakeDestination:
        destination = FakeDestination(
            id=destination_id or str(uuid.uuid4()),
            encryption_key=encryption_key,
            signature_keys={k["kid"]: k for k in signature_keys},
            public_services=public_services,
            status=status,
        )
        self.destinations[destination.id] = destination
        return destination

    # -- what tests read and inject -------------------------------------------------------------

    def submitted(self) -> list[FakeSubmission]:
        return [s for s in self.submissions.values() if s.submitted]

    def event_names(self, case_id: str) -> list[str]:
        names = []
        for token in self.events.get(case_id, []):
            claims = rules.b64json(token.split(".")[1])
            names += [name.removeprefix(EVENT) for name in claims["events"]]
        return names

    def event_claims(self, case_id: str, name: str) -> dict[str, Any]:
        for token in self.events.get(case_id, []):
            claims = rules.b64json(token.split(".")[1])
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
        subject: str | None = None,
    ) -> str:
        claims = {
            "$schema": SET_SCHEMA,
            "jti": str(uuid.uuid4()),
            "iss": issuer or (ISSUER if key is self.key else submission.destination_id),
            "iat": int(time.time()),
            "sub": subject or f"submission:{submission.id}",
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

    def _refuse(self, request: web.Request, status: int, reason: str) -> web.Response:
        self.refusals.append((request.path, status, reason))
        return web.json_response(
            {"type": "about:blank", "title": reason, "status": status},
            status=status,
            content_type="application/problem+json",
        )

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
            request[CLIENT] = entry[0]
        return await handler(request)

    def _role(self, request: web.Request, role: str) -> web.Response | None:
        client = request[CLIENT]
        actual = "sender" if client == CLIENT_ID else "subscriber"
        if actual != role:
            return self._refuse(request, 403, f"token lacks the {role} scope")
        return None

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
                "publicServices": d.public_services,
                "encryptionKid": d.encryption_key["kid"],
                "metadataVersions": d.metadata_versions,
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
