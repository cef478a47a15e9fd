"""``POST /v1/intakes/{kind}/callbacks``: another system tells an intake plug-in there is news.

A callback carries no bearer token; the intake authenticates it itself (an HMAC header, say —
see its `CallbackSpec`). In this order, as the OpenAPI document says: a kind that is not installed
(or takes no callbacks) is 404; a callback without every header its `CallbackSpec` names is 401;
an installed intake this deployment does not configure is 404; anything the intake cannot
authenticate is 401. Rejections are logged without the body. An authentic callback only wakes the
intake, which then reads the news from the other system itself, so a callback can never inject a
submission or a status.

An intake may name older paths for its callbacks (`CallbackSpec.aliases`, e.g. a path configured
at a sender before this route existed); they are registered here and answer exactly alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import structlog
from aiohttp import web

from ozgbridge.api.problems import Handler, Problem
from ozgbridge.api.state import current
from ozgbridge.errors import ConfigError
from ozgbridge.intake import CallbackRejected, CallbackSpec, Intake

CALLBACK_PATH = "/v1/intakes/{kind}/callbacks"
# Callbacks are tiny JSON documents; anything larger is not one.
MAX_CALLBACK_BYTES = 64 * 1024
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,63}")
# An alias may not shadow any other route: it has the shape of no other path of the API.
_ALIAS = re.compile(r"/v1/[a-z][a-z0-9-]{0,62}/callbacks")

log = structlog.get_logger("ozgbridge.api.callbacks")


def setup_callback_routes(app: web.Application, intake_classes: Mapping[str, type[Intake]]) -> None:
    """The generic route, and every installed intake's aliases (ConfigError for a bad one)."""
    specs = {kind: cls.callbacks for kind, cls in intake_classes.items() if cls.callbacks}
    app.router.add_post(CALLBACK_PATH, _generic_handler(specs))
    taken: dict[str, str] = {}
    for kind, cls in sorted(intake_classes.items()):
        for alias in cls.callbacks.aliases if cls.callbacks else ():
            if not _ALIAS.fullmatch(alias) or alias.startswith("/v1/intakes/"):
                raise ConfigError(
                    f"intake {kind!r}: callback alias {alias!r} is not /v1/<name>/callbacks"
                )
            if alias in taken:
                raise ConfigError(
                    f"intakes {taken[alias]!r} and {kind!r} both claim callback alias {alias!r}"
                )
            taken[alias] = kind
            app.router.add_post(alias, _alias_handler(kind, specs[kind]))


def _alias_handler(kind: str, spec: CallbackSpec) -> Handler:
    async def alias(request: web.Request) -> web.StreamResponse:
        return await _handle(request, kind, spec)

    return alias


def _generic_handler(specs: Mapping[str, CallbackSpec]) -> Handler:
    async def callback(request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        return await _handle(request, kind, specs.get(kind))

    return callback


def _not_configured(kind: str) -> Problem:
    shown = kind if _KIND.fullmatch(kind) else "(invalid name)"
    return Problem(404, f"no intake {shown} that takes callbacks is configured")


async def _handle(request: web.Request, kind: str, spec: CallbackSpec | None) -> web.StreamResponse:
    if spec is None:  # no such intake installed, or it takes no callbacks
        raise _not_configured(kind)
    missing = [name for name in spec.headers if name not in request.headers]
    if missing:
        reason = f"header(s) missing: {', '.join(missing)}"
        log.warning("intake.callback_rejected", kind=kind, reason=reason)
        raise Problem(401, f"callback not authenticated: {reason}")
    # The configured intakes of this moment (a reload may have replaced them).
    intake = next((i for i in current(request).intakes if i.kind == kind), None)
    if intake is None or intake.callbacks is None:
        raise _not_configured(kind)
    if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
        raise Problem(413, "a callback is at most 64 KiB")
    body = await request.read()  # bounded by the app's client_max_size
    if len(body) > MAX_CALLBACK_BYTES:
        raise Problem(413, "a callback is at most 64 KiB")
    try:
        await intake.handle_callback(request.headers, body)
    except CallbackRejected as exc:
        log.warning("intake.callback_rejected", kind=kind, reason=str(exc))
        raise Problem(401, "callback not authenticated") from None
    return web.Response(status=202)
