"""Reading a submission: headers, size, media type, JSON syntax, then the fields.

Each step refuses with the most specific problem it can, before anything is stored. Large bodies
are spooled while they arrive and parsed from the spool (see spool.py and extract.py); every
body is parsed and stored under the intake memory budget (``OZGBRIDGE_INTAKE_MEMORY_BUDGET``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from aiohttp import web
from pydantic import ValidationError

from ozgbridge.api.extract import extract
from ozgbridge.api.problems import TYPE_INVALID_JSON, Problem, validation_problem
from ozgbridge.api.schemas import ApplicationIn
from ozgbridge.api.spool import Spool
from ozgbridge.api.strictjson import refuse_duplicate_keys
from ozgbridge.domain import sha256_hex
from ozgbridge.membudget import BudgetExhausted, ByteBudget

IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# Above this size, hashing and parsing move to a thread: hashlib releases the GIL, and the
# validators (base64 decoding per attachment) give the event loop a chance between them.
THREAD_THRESHOLD = 256 * 1024
_JSON_POSITION = re.compile(r"^(?P<why>.*) at line (?P<line>\d+) column (?P<column>\d+)$")
_ACCEPT_POST = {"Accept-Post": "application/json"}
# Bodies above this size (and those of unknown length) are spooled to disk as they arrive.
SPOOL_ABOVE = 64 * 1024
TYPE_BUSY = "urn:ozgbridge:problem:busy"

log = structlog.get_logger("ozgbridge.api.intake")


def idempotency_key(request: web.Request) -> str | None:
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise Problem(400, f"{IDEMPOTENCY_HEADER} must be 1–255 printable ASCII characters")
    return value


@dataclass
class Received:
    """A submission's body, complete: in memory if small, else in an encrypted spool file."""

    size: int
    sha256: str
    raw: bytes | None = None
    spool: Spool | None = field(default=None, repr=False)

    async def parse(self, max_attachments: int) -> ApplicationIn:
        """The validated application; a 400 problem for broken JSON, 422 for invalid fields."""
        if self.spool is not None:
            return await asyncio.to_thread(_parse_spooled, self.spool, max_attachments)
        assert self.raw is not None
        return await parse_application(self.raw, max_attachments)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


async def read_json_body(request: web.Request, limit: int) -> bytes:
    """A small JSON body (other endpoints than submissions), in memory, after the same checks."""
    _check_json_request(request, limit)
    return await request.read()  # a chunked body over client_max_size raises 413 here


async def receive(request: web.Request, limit: int, spool_dir: Path | None = None) -> Received:
    """Check size and media type, then take the body: small ones into memory, large ones (and
    those of unknown length) into a spool file as they arrive."""
    length = _check_json_request(request, limit)
    if length is not None and length <= SPOOL_ABOVE:
        raw = await request.read()
        return Received(len(raw), await body_sha256(raw), raw=raw)
    spool = Spool(spool_dir)
    try:
        while chunk := await request.content.readany():
            if spool.size + len(chunk) > limit:
                raise Problem(413, f"request body exceeds the limit of {limit} bytes")
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return Received(spool.size, spool.sha256(), spool=spool)


def _check_json_request(request: web.Request, limit: int) -> int | None:
    """The announced length, after refusing what size and media type already rule out."""
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
    return length


def budgeted(budget: ByteBudget, received: Received, wait: float) -> BudgetHold:
    """Hold the submission's share of the intake budget while it is parsed and stored.

    A body counts twice its size: its decoded content, and the copy the database driver makes
    of it while it is written.
    """
    return BudgetHold(budget, received, wait)


class BudgetHold:
    """``async with``: the share taken (or a 503 problem), given back on the way out.

    A class, not an ``@asynccontextmanager``: every submission enters it, and a generator-based
    context manager costs several times as much.
    """

    __slots__ = ("_budget", "_received", "_taken", "_wait")

    def __init__(self, budget: ByteBudget, received: Received, wait: float) -> None:
        self._budget, self._received, self._wait = budget, received, wait
        self._taken = 0

    async def __aenter__(self) -> None:
        budget, size, wait = self._budget, self._received.size, self._wait
        try:
            self._taken = await budget.acquire(2 * size, wait=wait)
        except BudgetExhausted:
            log.warning("intake.busy", size=size, budget_held=budget.held, waiting=budget.waiting)
            # About as long as it was worth waiting here: by then the budget has turned over.
            retry_after = max(1, round(wait / 2))
            raise Problem(
                503,
                "the service is busy with other large submissions; nothing was stored — send it "
                f"again after {retry_after} seconds",
                type=TYPE_BUSY,
                title="Busy",
                headers={"Retry-After": str(retry_after)},
            ) from None

    async def __aexit__(self, *_exc: object) -> None:
        self._budget.release(self._taken)


async def body_sha256(raw: bytes) -> str:
    if len(raw) > THREAD_THRESHOLD:
        return await asyncio.to_thread(sha256_hex, raw)
    return sha256_hex(raw)


async def parse_application(raw: bytes, max_attachments: int) -> ApplicationIn:
    """The validated application; a 400 problem for broken JSON, 422 for invalid fields."""
    if len(raw) > THREAD_THRESHOLD:
        return await asyncio.to_thread(_parse, raw, max_attachments)
    return _parse(raw, max_attachments)


def _parse_spooled(spool: Spool, max_attachments: int) -> ApplicationIn:
    return parse_streamed(spool.chunks(), max_attachments)


def parse_streamed(chunks: Iterable[bytes], max_attachments: int) -> ApplicationIn:
    """What `parse_application` answers for the body these chunks make up, without holding
    the body (see extract.py)."""
    extracted = extract(chunks)
    refuse_duplicate_keys(extracted.skeleton, extracted.original_column)
    context = {"max_attachments": max_attachments, "spooled": extracted.values}
    try:
        return ApplicationIn.model_validate_json(extracted.skeleton, context=context, by_name=False)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                reason = str(error.get("ctx", {}).get("error", ""))
                raise _invalid_json(reason, extracted.original_column) from None
        raise validation_problem(exc) from None


def _parse(raw: bytes, max_attachments: int) -> ApplicationIn:
    refuse_duplicate_keys(raw)
    try:
        return ApplicationIn.model_validate_json(
            raw, context={"max_attachments": max_attachments}, by_name=False
        )
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                raise _invalid_json(str(error.get("ctx", {}).get("error", ""))) from None
        raise validation_problem(exc) from None


def _invalid_json(reason: str, column_of: Callable[[int, int], int] | None = None) -> Problem:
    """``column_of(line, column)``: where a position in what was parsed is in the body."""
    match = _JSON_POSITION.match(reason)
    if match:
        line, column = int(match["line"]), int(match["column"])
        if column_of is not None:
            column = column_of(line, column)
        detail = f"body is not valid JSON: line {line} column {column} ({match['why']})"
    else:
        detail = f"body is not valid JSON: {reason}"
    return Problem(400, detail, type=TYPE_INVALID_JSON, title="Malformed JSON")
