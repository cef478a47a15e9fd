"""``POST /v1/fitconnect/callbacks``: the Zustelldienst says there is news (new submissions for
a destination, new events in a case).

A callback carries no bearer token; it is authenticated by its HMAC (``callback-authentication``
over ``callback-timestamp`` and the raw body), which the ``fitconnect`` intake plug-in checks.
Anything it cannot authenticate is answered 401 and logged without the body. An authentic
callback only wakes the intake; what it announces is then read from the API itself, so a
callback can never inject a submission or a status.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from ozgbridge.api.problems import Problem
from ozgbridge.intake import CallbackRejected, Intake

INTAKES = web.AppKey("intakes", list[Intake])
# Callbacks are tiny JSON documents; anything larger is not one.
MAX_CALLBACK_BYTES = 64 * 1024

log = structlog.get_logger("ozgbridge.api.fitconnect")


async def callback(request: web.Request) -> web.StreamResponse:
    intake = next((i for i in request.app[INTAKES] if i.kind == "fitconnect"), None)
    if intake is None:
        raise Problem(404, "no FIT-Connect intake or sender is configured")
    if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
        raise Problem(413, "a callback is at most 64 KiB")
    body = await request.read()  # bounded by the app's client_max_size
    if len(body) > MAX_CALLBACK_BYTES:
        raise Problem(413, "a callback is at most 64 KiB")
    try:
        await intake.handle_callback(request.headers, body)
    except CallbackRejected as exc:
        log.warning("fitconnect.callback_rejected", reason=str(exc))
        raise Problem(401, "callback not authenticated") from None
    return web.Response(status=202)
