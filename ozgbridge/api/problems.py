"""RFC 9457 problem details: the one shape every error answer of the API has.

Handlers raise `Problem` (`validation_problem` makes one from a pydantic ValidationError);
`problem_middleware` turns it, aiohttp's HTTP exceptions and anything unexpected into
``application/problem+json``. A database that cannot be used right now (down, restarting,
refusing connections: `store.engine.unavailable`) is a 503 with ``Retry-After``, so that a
portal sends the application again instead of treating it as failed. (A commit that got through
just before the connection broke is answered 503 too; the retry's Idempotency-Key finds it.)
Unexpected errors are logged in full and answered with a generic text: exception messages may
carry SQL, paths or personal data and never reach the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus

import structlog
from aiohttp import web
from aiohttp.streams import EofStream
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from ozgbridge.api.schemas_out import FieldError, ProblemOut
from ozgbridge.errors import OzgbridgeError
from ozgbridge.store.engine import unavailable

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Problem types for failures a client can act on; plain HTTP failures use "about:blank".
TYPE_VALIDATION = "urn:ozgbridge:problem:validation"
TYPE_INVALID_JSON = "urn:ozgbridge:problem:invalid-json"
TYPE_UNROUTABLE = "urn:ozgbridge:problem:unroutable"
TYPE_IDEMPOTENCY_CONFLICT = "urn:ozgbridge:problem:idempotency-key-reused"
TYPE_BLANK = "about:blank"
TYPE_DATABASE_UNAVAILABLE = "urn:ozgbridge:problem:database-unavailable"
# Seconds a client should wait before trying again while the database is away: long enough not
# to hammer it while it restarts, short enough that a portal's user barely notices.
DATABASE_RETRY_AFTER = 5

REQUEST_ID_KEY = web.RequestKey("request_id", str)
# nginx's code for "the client closed the connection before the answer was ready": never sent,
# only logged.
CLIENT_CLOSED = 499

log = structlog.get_logger("ozgbridge.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(OzgbridgeError):
    """An error answer a handler chooses deliberately."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = TYPE_BLANK,
        title: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type
        self.title = title or HTTPStatus(status).phrase
        self.errors = tuple(errors)
        self.headers = dict(headers or {})


def problem_response(request: web.Request, problem: Problem) -> web.Response:
    document = ProblemOut(
        type=problem.type,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        instance=request.path,
        request_id=request.get(REQUEST_ID_KEY),
        errors=list(problem.errors) or None,
    )
    return web.Response(
        status=problem.status,
        body=document.model_dump_json(by_alias=True, exclude_none=True).encode(),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=problem.headers,
    )


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as the client wrote it: ``attachments[0].filename``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def _message(error: ErrorDetails) -> str:
    # Domain validators raise ValueError; pydantic prefixes those with "Value error, ".
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    name = error["loc"][-1] if error["loc"] else None
    if error["type"] == "extra_forbidden" and isinstance(name, str) and "_" in name:
        # The models know their snake_case names, but the API is camelCase only (the OpenAPI
        # document); say how to write it rather than just "not permitted".
        return f"unknown field; fields are camelCase ({to_camel(name)})"
    return error["msg"]


def field_errors(errors: Sequence[ErrorDetails]) -> list[FieldError]:
    return [FieldError(field=field_path(e["loc"]), message=_message(e)) for e in errors]


def validation_problem(exc: ValidationError) -> Problem:
    errors = field_errors(exc.errors(include_url=False, include_input=False))
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Problem(
        422,
        f"{first.field}: {first.message}{more}",
        type=TYPE_VALIDATION,
        title="Request validation failed",
        errors=errors,
    )


_HTTP_DETAILS = {
    404: "no such resource",
    405: "method not allowed on this resource",
    413: "request body too large",
}


def _from_http_exception(exc: web.HTTPException) -> Problem:
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
    detail = _HTTP_DETAILS.get(exc.status, HTTPStatus(exc.status).phrase)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        # aiohttp's text names the limit and the size read so far; both are the client's to know.
        detail = exc.text or detail
    return Problem(exc.status, detail, headers=headers)


def client_gone(request: web.Request) -> bool:
    """Whether the client's connection is closed (or closing)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _is_disconnect(exc: BaseException) -> bool:
    # aiohttp fails a body read with ConnectionResetError("Connection lost") when the peer goes;
    # a write to a closed transport raises ClientConnectionResetError, a ConnectionResetError too.
    return isinstance(exc, (ConnectionError, asyncio.IncompleteReadError, EofStream))


def database_unavailable(request: web.Request, exc: BaseException) -> Problem:
    """The 503 for a request that failed because the database is away (`unavailable`), logged
    as ``http.database_unavailable``; the dashboard shows it as a page (ui.routes)."""
    # The type only: the message may name hosts, and SQLAlchemy's the statement.
    log.error(
        "http.database_unavailable",
        method=request.method,
        path=request.path,
        error_type=type(exc).__name__,
    )
    return Problem(
        503,
        f"the database is not available; try again after {DATABASE_RETRY_AFTER} seconds (with "
        "an Idempotency-Key, a submission stored after all is answered as the first time, never "
        "stored twice)",
        type=TYPE_DATABASE_UNAVAILABLE,
        title="Database unavailable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(request, problem)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(request, _from_http_exception(exc))
    except Exception as exc:
        if client_gone(request) and _is_disconnect(exc):
            # Reading the body failed because the client went away: its doing, not a bug. The
            # answer cannot be delivered; the access log records 499.
            return web.Response(status=CLIENT_CLOSED)
        if unavailable(exc):
            return problem_response(request, database_unavailable(request, exc))
        # A stray ValidationError lands here too: request bodies are validated (and turned into
        # 422 problems) at the intake, so any other one is our bug, not the client's.
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        return problem_response(
            request,
            Problem(500, "the request could not be processed; the error has been logged"),
        )
