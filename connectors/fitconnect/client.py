"""One HTTP client for a FIT-Connect API: OAuth2 token handling and the one place where httpx
errors and unwanted answers are translated into ozgbridge's error tree.

Both the sender (connector) and the subscriber (intake) use it. Details name status codes and
paths with ids, never bodies: answers can echo personal data.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import structlog

from ozgbridge.connector import (
    PermanentDeliveryError,
    RetriableDeliveryError,
    classify_http_status,
)

logger = structlog.get_logger("ozgbridge.connectors.fitconnect")

# Renew a little early, so a token never expires between reading it and the request arriving.
_TOKEN_MARGIN_SECONDS = 30.0
_clock = time.monotonic  # replaceable in tests, which cannot wait for a token to expire


class ResponseTooLarge(PermanentDeliveryError):
    """An answer larger than the caller allows (read in chunks, never past the cap)."""


def classify(response: httpx.Response, what: str) -> None:
    """Raise what a non-2xx answer means for the caller (the rule every HTTP connector shares,
    `classify_http_status`); return for 2xx."""
    error = classify_http_status(
        response.status_code,
        target=f"FIT-Connect ({what})",
        retry_after=response.headers.get("retry-after"),
    )
    if error is not None:
        raise error


def json_of(response: httpx.Response, what: str) -> Any:
    """The answer's JSON; an unreadable answer is the service's fault, worth trying again."""
    try:
        return response.json()
    except ValueError as exc:
        raise RetriableDeliveryError(f"unreadable answer from FIT-Connect ({what})") from exc


class FitConnectClient:
    """Requests to one Submission API with a client-credentials token, cached until it expires.

    A 401 answer means the token went stale early (revoked, clock skew): the client fetches a new
    one and repeats the request once; a second 401 is permanent (wrong credentials or scope).
    """

    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout: float,
        scope: str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._timeout = timeout
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout), follow_redirects=False
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def authenticate(self) -> None:
        """Obtain a token now (or keep the cached one): the client credentials work."""
        await self._access_token()

    async def _access_token(self, *, stale: str | None = None) -> str:
        async with self._token_lock:
            # Another request may have renewed it while this one waited for the lock.
            fresh = _clock() < self._token_expires
            if self._token is not None and self._token != stale and fresh:
                return self._token
            form = {
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            }
            if self._scope:
                form["scope"] = self._scope
            response = await self._send("POST", self._token_url, data=form)
            if response.status_code in (400, 401, 403):
                raise PermanentDeliveryError(
                    f"HTTP {response.status_code} from the FIT-Connect token endpoint: "
                    "client credentials refused",
                    status_code=response.status_code,
                )
            classify(response, "token")
            try:
                document = response.json()
                token = document["access_token"]
                lifetime = float(document.get("expires_in", 300))
            except (ValueError, KeyError, TypeError) as exc:
                raise RetriableDeliveryError("unreadable answer from the token endpoint") from exc
            if not isinstance(token, str) or not token:
                raise RetriableDeliveryError("token endpoint gave no access token")
            self._token = token
            margin = min(_TOKEN_MARGIN_SECONDS, lifetime / 10)
            self._token_expires = _clock() + max(0.0, lifetime - margin)
            logger.info("fitconnect.token_fetched", expires_in=lifetime)
            return token

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        content: bytes | str | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """An authenticated request to ``api_url + path``; returns 2xx answers, raises otherwise.

        With ``max_bytes`` the answer is read in chunks and refused (`ResponseTooLarge`) as soon
        as it grows past the cap, so a hostile or broken server cannot make this side hold more.
        """
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        token = await self._access_token()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}"}
            if content_type is not None:
                headers["Content-Type"] = content_type
            response = await self._send(
                method,
                url,
                json=json,
                content=content,
                params=params,
                headers=headers,
                max_bytes=max_bytes,
            )
            if response.status_code == 401 and attempt == 1:
                logger.info("fitconnect.token_refused", what=what)
                token = await self._access_token(stale=token)
                continue
            break
        classify(response, what)
        return response

    async def get_public(self, url: str, *, what: str, params: dict[str, Any]) -> httpx.Response:
        """An unauthenticated GET (Routing API, JWKS)."""
        response = await self._send("GET", url, params=params)
        classify(response, what)
        return response

    async def _send(
        self, method: str, url: str, *, max_bytes: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The one place where httpx exceptions become ozgbridge errors."""
        try:
            if max_bytes is None:
                return await self._client().request(method, url, **kwargs)
            async with self._client().stream(method, url, **kwargs) as streamed:
                chunks, size = [], 0
                async for chunk in streamed.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ResponseTooLarge(
                            f"answer from FIT-Connect larger than {max_bytes} bytes"
                        )
                    chunks.append(chunk)
                return httpx.Response(
                    streamed.status_code,
                    headers=streamed.headers,
                    content=b"".join(chunks),
                    request=streamed.request,
                )
        except httpx.TimeoutException as exc:
            raise RetriableDeliveryError(
                f"no answer from FIT-Connect within {self._timeout:g} s"
            ) from exc
        except httpx.RequestError as exc:
            raise RetriableDeliveryError(f"{type(exc).__name__} talking to FIT-Connect") from exc
