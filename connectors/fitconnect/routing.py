"""Finding a destination through FIT-Connect's Routing API, and trusting only signed answers.

``GET {routing_api_url}/routes?leikaKey=…&ars=…`` answers ``{count, offset, totalCount, routes}``;
each route carries ``destinationId`` and ``destinationSignature`` (both required), a JWS (RFC 7515)
that the Self-Service-Portal made over the addressing information (FITKO ``routing-api.yaml``
2.0.0, ``components.schemas.route``; a copy is in ``tests/fakes/spec/``). Its payload, as the
spec's own example shows, is
``{submissionHost, iss, services: [{gebietIDs, leistungIDs}], destinationId, iat, jti}`` with
``alg`` PS512 and a ``kid``.

Before a looked-up destination is used: the signature must verify with a key of the portal's JWKS
(``routing_jwks_url``), name the same ``destinationId``, list the service's LeiKa URN, and name
as ``submissionHost`` the host of the Submission API this route sends to — otherwise a tampered
answer could send an application to a destination or Zustelldienst nobody vouched for.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from connectors.fitconnect import crypto, metadata
from connectors.fitconnect.client import FitConnectClient, json_of
from ozgbridge.errors import InvalidValue, PermanentDeliveryError

_JWKS_CACHE_SECONDS = 3600.0


class SignatureRefused(InvalidValue):
    """A destinationSignature that does not vouch for this destination, service and host."""


@dataclass(frozen=True)
class SignedClaims:
    destination_id: str
    submission_host: str
    services: list[str]


def check_claims(
    claims: dict[str, Any], *, destination_id: str, leika_key: str, submission_host: str
) -> None:
    """Pure: does the signed payload vouch for this route?"""
    if claims.get("destinationId") != destination_id:
        raise SignatureRefused("destinationSignature names another destination")
    if claims.get("submissionHost") != submission_host:
        raise SignatureRefused("destinationSignature names another Submission API host")
    urn = f"{metadata.LEIKA_URN_PREFIX}{leika_key}"
    services = claims.get("services")
    listed = {
        str(i)
        for s in (services if isinstance(services, list) else [])
        if isinstance(s, dict)
        for i in (s.get("leistungIDs") or [])
    }
    if urn not in listed:
        raise SignatureRefused("destinationSignature does not list the service")


def host_of(url: str) -> str:
    return urlsplit(url).netloc


class Router:
    """Looks destinations up and caches them per (LeiKa key, ARS) for ``cache_seconds``."""

    def __init__(
        self,
        client: FitConnectClient,
        *,
        routing_api: str,
        jwks_url: str,
        submission_host: str,
        cache_seconds: float,
    ) -> None:
        self._client = client
        self._routing_api = routing_api
        self._jwks_url = jwks_url
        self._submission_host = submission_host
        self._cache_seconds = cache_seconds
        self._routes: dict[tuple[str, str], tuple[str, float]] = {}
        self._keys: tuple[KeySet, float] | None = None

    async def destination_id(self, leika_key: str, ars: str) -> str:
        cached = self._routes.get((leika_key, ars))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        response = await self._client.get_public(
            f"{self._routing_api}/routes",
            what="routing",
            params={"leikaKey": leika_key, "ars": ars},
        )
        document = json_of(response, "routing")
        routes = document.get("routes") if isinstance(document, dict) else None
        found = {
            str(r["destinationId"]): r
            for r in routes or []
            if isinstance(r, dict) and r.get("destinationId")
        }
        if len(found) != 1:
            raise PermanentDeliveryError(
                f"the Routing API names {len(found)} destinations for service "
                f"{leika_key} in {ars}, not exactly one"
            )
        [(raw_id, route)] = found.items()
        try:
            destination_id = str(uuid.UUID(raw_id))
        except ValueError as exc:
            raise PermanentDeliveryError("the Routing API gave an invalid destination id") from exc
        await self._verify(route.get("destinationSignature"), destination_id, leika_key)
        self._routes[(leika_key, ars)] = (destination_id, time.monotonic() + self._cache_seconds)
        return destination_id

    async def _verify(self, signature: Any, destination_id: str, leika_key: str) -> None:
        try:
            if not isinstance(signature, str):
                raise SignatureRefused("route has no destinationSignature")
            header = crypto.set_header(signature)
            if header.get("alg") != crypto.SET_ALG or not isinstance(header.get("kid"), str):
                raise SignatureRefused("destinationSignature is not PS512 with a kid")
            keys = await self._key_set()
            try:
                result = jws.deserialize_compact(signature, keys, algorithms=[crypto.SET_ALG])
                claims = json.loads(result.payload)
            except (JoseError, ValueError, TypeError) as exc:
                raise SignatureRefused("destinationSignature does not verify") from exc
            if not isinstance(claims, dict):
                raise SignatureRefused("destinationSignature payload is not an object")
            check_claims(
                claims,
                destination_id=destination_id,
                leika_key=leika_key,
                submission_host=self._submission_host,
            )
        except (SignatureRefused, crypto.CryptoFailure) as exc:
            raise PermanentDeliveryError(
                f"routing answer for destination {destination_id} refused: {exc}"
            ) from exc

    async def _key_set(self) -> KeySet:
        if self._keys is not None and self._keys[1] > time.monotonic():
            return self._keys[0]
        response = await self._client.get_public(self._jwks_url, what="routing jwks", params={})
        document = json_of(response, "routing jwks")
        try:
            keys = [
                {k: v for k, v in jwk.items() if k != "key_ops"}
                for jwk in document.get("keys", [])
                if isinstance(jwk, dict) and jwk.get("alg") == crypto.SET_ALG
            ]
            key_set = KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError, AttributeError) as exc:
            raise SignatureRefused("the routing JWKS cannot be read") from exc
        self._keys = (key_set, time.monotonic() + _JWKS_CACHE_SECONDS)
        return key_set
