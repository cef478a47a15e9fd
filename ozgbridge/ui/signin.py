"""Signing in to the dashboard: throttled, audited, answered in constant time.

Failed sign-ins are counted per client address (as `ozgbridge.api.clients` resolves it, so
behind trusted proxies per real client) and per token prefix, in the database so that every API
process sees the same counts (``OZGBRIDGE_UI_SIGN_IN_LIMIT`` per ``OZGBRIDGE_UI_SIGN_IN_WINDOW``
seconds; decisions in `ozgbridge.ui.throttle`). Beyond the limit the answer is 429 with
``Retry-After`` — without looking at the token at all, so a throttled guesser learns nothing,
not even from a right guess.

Every answer to a sign-in takes the same time (`ANSWER_SECONDS`, unless the work itself took
longer): whether a token was unknown, throttled or right is not told by how long the answer took.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from aiohttp import web

from ozgbridge import audit
from ozgbridge.api import clients
from ozgbridge.api.auth import API_KEY, expiry_problem
from ozgbridge.api.key_usage import KEY_USAGE
from ozgbridge.api.state import REPOSITORY, SETTINGS, current_deployment
from ozgbridge.store import sessions as session_store
from ozgbridge.tenants import ApiKey, Role, token_sha256
from ozgbridge.ui import throttle

ROLE_NAMES = {Role.COORDINATOR: "Koordination", Role.OPERATOR: "Betrieb", Role.TENANT: "Mandant"}
# As in the API: tokens are visible ASCII; anything else cannot match (nor always encode).
_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")
ANSWER_SECONDS = 0.3

log = structlog.get_logger("ozgbridge.ui")


@dataclass(frozen=True)
class Outcome:
    key: ApiKey | None  # signed in as this key; else refused:
    status: int = 200
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


async def attempt(request: web.Request, token: str) -> Outcome:
    """Check a sign-in and answer no sooner than `ANSWER_SECONDS` after it began."""
    deadline = time.monotonic() + ANSWER_SECONDS
    try:
        return await _attempt(request, token)
    finally:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


async def _attempt(request: web.Request, token: str) -> Outcome:
    settings = request.app[SETTINGS]
    engine = request.app[REPOSITORY].engine
    client = clients.resolve(request)
    subjects = throttle.subjects(client, token)
    window = timedelta(seconds=settings.ui_sign_in_window)
    now = datetime.now(UTC)
    failures = await session_store.recent_failures(engine, subjects, now - window)
    verdict = throttle.decide(failures, limit=settings.ui_sign_in_limit, window=window, now=now)
    if not verdict.allowed:
        log.warning(
            "ui.sign_in_throttled",
            client=client,
            by=list(verdict.blocked_by),
            retry_after=verdict.retry_after,
        )
        return Outcome(
            None,
            429,
            "Zu viele fehlgeschlagene Anmeldungen. Bitte später erneut versuchen.",
            {"Retry-After": str(verdict.retry_after)},
        )
    digest = token_sha256(token) if _TOKEN.fullmatch(token) is not None else ""
    key = current_deployment(request).key_by_hash(digest) if digest else None
    if key is None:
        await _record_failure(
            request, client, subjects=subjects, failures=failures, now=now, window=window
        )
        return Outcome(None, 401, "Unbekannter API-Schlüssel.")
    if expiry_problem(key, digest) is not None:
        # A genuine key past its time: not a guess, so not counted; said plainly.
        log.info("ui.sign_in_refused", key_id=key.id, reason="expired")
        return Outcome(None, 401, "Dieser API-Schlüssel ist abgelaufen.")
    if key.role not in ROLE_NAMES:
        # A genuine key of another role: not a guess, so not counted; said plainly.
        log.info("ui.sign_in_refused", key_id=key.id, role=str(key.role))
        return Outcome(None, 403, "Dieser Schlüssel darf keine Berichte sehen.")
    request[API_KEY] = key
    request.app[KEY_USAGE].touch(key.id)
    if key.demo:
        log.warning("auth.demo_key_used", key_id=key.id, role=str(key.role), where="ui")
    await audit.record(
        engine,
        audit.AuditEvent(
            f"key:{key.id}", "ui.signed_in", details={"client": client, "role": str(key.role)}
        ),
    )
    log.info("ui.signed_in", key_id=key.id, role=str(key.role))
    return Outcome(key)


async def _record_failure(
    request: web.Request,
    client: str,
    *,
    subjects: list[str],
    failures: Mapping[str, list[datetime]],
    now: datetime,
    window: timedelta,
) -> None:
    settings = request.app[SETTINGS]
    prefix = subjects[1].removeprefix(throttle.PREFIX)
    actor = f"client:{client}"
    events = [
        audit.AuditEvent(
            actor,
            "ui.sign_in_failed",
            details={"client": client, "token_prefix_sha256": prefix},
        )
    ]
    # The failure that fills a subject's allowance is audited as the start of a throttle; the
    # refused attempts after it are only logged, so a flood cannot flood the audit log.
    limited = throttle.reaches_limit(
        failures, limit=settings.ui_sign_in_limit, window=window, now=now
    )
    if limited:
        events.append(
            audit.AuditEvent(
                actor,
                "ui.sign_in_throttled",
                details={
                    "client": client,
                    "token_prefix_sha256": prefix,
                    "by": [subject.split(":", 1)[0] for subject in limited],
                    "seconds": settings.ui_sign_in_window,
                },
            )
        )
    await session_store.record_failure(
        request.app[REPOSITORY].engine, subjects, now, window, events
    )
    log.info("ui.sign_in_failed", client=client, throttled=bool(limited))
