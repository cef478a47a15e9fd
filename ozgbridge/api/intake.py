"""Reading a submission: headers, size, media type, JSON syntax, then the fields.

Each step refuses with the most specific problem it can, before anything is stored.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from pydantic import ValidationError

from ozgbridge.api.problems import TYPE_INVALID_JSON, Problem, validation_problem
from ozgbridge.api.schemas import ApplicationIn
from ozgbridge.api.strictjson import refuse_duplicate_keys
from ozgbridge.domain import sha256_hex

IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# Above this size, hashing and parsing move to a thread: hashlib releases the GIL, and the
# validators (base64 decoding per attachment) give the event loop a chance between them.
THREAD_THRESHOLD = 256 * 1024
_JSON_POSITION = re.compile(r"^(?P<why>.*) at line (?P<line>\d+) column (?P<column>\d+)$")
_ACCEPT_POST = {"Accept-Post": "application/json"}


def idempotency_key(request: web.Request) -> str | None:
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise Problem(400, f"{IDEMPOTENCY_HEADER} must be 1–255 printable ASCII characters")
    return value


async def read_json_body(request: web.Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        # Refuse on the header alone: no need to receive megabytes only to throw them away.
        raise Problem(413, f"request body is {length} bytes; the limit is {limit} bytes")
    if request.content_type != "application/json":
        raise Problem(
            415,
            f"the body must be application/json, not {request.content_type}",
            headers=_ACCEPT_POST,
        )
    if request.charset is not None and request.charset.lower() not in ("utf-8", "utf8"):
        raise Problem(
            415, f"JSON must be sent as UTF-8, not {request.charset}", headers=_ACCEPT_POST
        )
    return await request.read()  # a chunked body over client_max_size raises 413 here


async def body_sha256(raw: bytes) -> str:
    if len(raw) > THREAD_THRESHOLD:
        return await asyncio.to_thread(sha256_hex, raw)
    return sha256_hex(raw)


async def parse_application(raw: bytes, max_attachments: int) -> ApplicationIn:
    """The validated application; a 400 problem for broken JSON, 422 for invalid fields."""
    if len(raw) > THREAD_THRESHOLD:
        return await asyncio.to_thread(_parse, raw, max_attachments)
    return _parse(raw, max_attachments)


def _parse(raw: bytes, max_attachments: int) -> ApplicationIn:
    refuse_duplicate_keys(raw)
    try:
        return ApplicationIn.model_validate_json(raw, context={"max_attachments": max_attachments})
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                raise _invalid_json(str(error.get("ctx", {}).get("error", ""))) from None
        raise validation_problem(exc) from None


def _invalid_json(reason: str) -> Problem:
    match = _JSON_POSITION.match(reason)
    detail = (
        f"body is not valid JSON: line {match['line']} column {match['column']} ({match['why']})"
        if match
        else f"body is not valid JSON: {reason}"
    )
    return Problem(400, detail, type=TYPE_INVALID_JSON, title="Malformed JSON")
