"""The fake Routing API and the Self-Service-Portal key that signs its answers.

``GET /routing/routes?leikaKey=…&ars=…`` answers FITKO's ``route-result``
(``{count, offset, totalCount, routes}``, routing-api.yaml 2.0.0 in ``tests/fakes/spec/``); every
route carries ``destinationSignature``, a PS512 JWS whose payload has the shape of the spec's own
example (``submissionHost``, ``iss``, ``services[{gebietIDs, leistungIDs}]``, ``destinationId``,
``iat``, ``jti``), signed by the portal key published at ``/ssp/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from joserfc import jws

from tests.fakes.fitconnect_keys import rsa_key, signature_jwk

LEIKA_URN = "urn:de:fim:leika:leistung:"
REGION_URN = "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:"


@dataclass
class RoutingService:
    submission_host: str = ""
    routes: dict[tuple[str, str], str] = field(default_factory=dict)  # (leika, ars) -> id
    # Tests tamper with answers: override payload claims, or sign with another key.
    claim_overrides: dict[str, Any] = field(default_factory=dict)
    signer_name: str = "ssp-portal"
    requests: int = 0

    def sign(self, destination_id: str, leika_key: str, ars: str) -> str:
        key = rsa_key(self.signer_name)
        claims = {
            "submissionHost": self.submission_host,
            "iss": "https://portal.auth.fake.invalid",
            "services": [{"gebietIDs": [REGION_URN + ars], "leistungIDs": [LEIKA_URN + leika_key]}],
            "destinationId": destination_id,
            "iat": int(time.time()),
            "jti": str(uuid.uuid4()),
            **self.claim_overrides,
        }
        header = {"alg": "PS512", "typ": "jwt", "kid": rsa_key("ssp-portal").kid}
        return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["PS512"])

    async def handle_routes(self, request: web.Request) -> web.Response:
        self.requests += 1
        leika, ars = request.query.get("leikaKey", ""), request.query.get("ars", "")
        if not (leika.startswith("99") and len(leika) == 14 and leika.isdigit()):
            return web.json_response({"title": "leikaKey invalid"}, status=400)
        found = self.routes.get((leika, ars))
        routes = (
            [{"destinationId": found, "destinationSignature": self.sign(found, leika, ars)}]
            if found
            else []
        )
        return web.json_response(
            {"count": len(routes), "offset": 0, "totalCount": len(routes), "routes": routes}
        )

    async def handle_jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [signature_jwk(rsa_key("ssp-portal"))]})
