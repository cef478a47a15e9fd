"""Verifying the audit chain, and checkpoints that anchor it outside the database.

`verify` recomputes every link and lists every break (up to a limit), not only the first: after a
break it goes on from the stored hash, so one altered event is one break, a deleted range one.
What the HMAC cannot show alone — the last events deleted, or an unkeyed (pre-HMAC) part of the
chain recomputed — a *checkpoint* shows: the head of the chain (``seq``, ``hash``, time) kept
somewhere the database's users cannot write. ``ozgbridge audit checkpoint`` prints one; every
service process logs one at start and every ``OZGBRIDGE_AUDIT_CHECKPOINT_INTERVAL`` seconds
(``audit.checkpoint``), so the central log store holds anchors. ``audit verify --checkpoint FILE``
fails when the chain no longer reaches a checkpoint's event with that hash.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.audit import (
    GENESIS_HASH,
    chain_hash,
    chaining_keys,
    event_document,
    keyed_document,
)
from ozgbridge.audit_keys import AuditKeyError, AuditKeys
from ozgbridge.store.audit_log import chain_head, stored_events

log = structlog.get_logger("ozgbridge.audit")

_HASH = re.compile(r"[0-9a-f]{64}")
_UNSET: Any = object()


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str | None = None
    source: str = ""  # where it came from (file:line), for messages


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # events that verified before the first break
    first_bad_seq: int | None = None
    problem: str | None = None
    last_hash: str = GENESIS_HASH
    last_seq: int = 0
    events: int = 0
    unkeyed: int = 0  # events from before keyed chaining (plain SHA-256)
    breaks: tuple[Break, ...] = ()
    truncated: bool = False  # more breaks than the limit; verification stopped there
    checkpoints_reached: int = 0


class _Check:
    """The state of one verification run."""

    def __init__(
        self, keys: AuditKeys | None, checkpoints: Sequence[Checkpoint], limit: int
    ) -> None:
        self.keys = keys
        self.limit = limit
        self.checkpoints: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            self.checkpoints.setdefault(checkpoint.seq, []).append(checkpoint)
        self.breaks: list[Break] = []
        self.prev_hash = GENESIS_HASH
        self.expected = 1
        self.keyed = False
        self.checked = 0
        self.events = 0
        self.unkeyed = 0
        self.reached = 0
        self.truncated = False  # there were more breaks than the limit

    def note(self, seq: int, problem: str) -> None:
        if len(self.breaks) < self.limit:
            self.breaks.append(Break(seq, problem))
        else:
            self.truncated = True

    def row(self, row: Any) -> None:
        self.events += 1
        linked = row.seq == self.expected
        if not linked:
            missing = (
                f"event {self.expected} is missing"
                if row.seq == self.expected + 1
                else f"events {self.expected}–{row.seq - 1} are missing"
            )
            self.note(self.expected, f"{missing} (deleted)")
        elif row.prev_hash != self.prev_hash:
            self.note(row.seq, "prev_hash does not match the event before it (changed or moved)")
        self._content(row)
        for checkpoint in self.checkpoints.pop(row.seq, []):
            if checkpoint.hash != row.hash:
                self.note(
                    row.seq,
                    f"differs from checkpoint {checkpoint.source}: the chain up to here was "
                    "rewritten",
                )
            else:
                self.reached += 1
        self.prev_hash = row.hash
        self.expected = row.seq + 1
        if not self.breaks:
            self.checked += 1

    def _content(self, row: Any) -> None:
        try:
            details = json.loads(row.details)
        except ValueError:
            self.note(row.seq, "details are not JSON")
            return
        if row.key_id is None:
            self.unkeyed += 1
            if self.keyed:
                self.note(
                    row.seq,
                    "not chained with an audit key, after keyed chaining began (rewritten, or "
                    "written by a process without OZGBRIDGE_AUDIT_KEY)",
                )
                return
            key = None
        else:
            self.keyed = True
            if self.keys is None:
                raise AuditKeyError(
                    f"event {row.seq} on is chained with audit key {row.key_id!r}: set "
                    "OZGBRIDGE_AUDIT_KEY to the key file to verify it"
                )
            key = self.keys.get(row.key_id)
            if key is None:
                self.note(row.seq, f"chained with audit key {row.key_id!r}, not in the key file")
                return
        document = event_document(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            tenant_id=row.tenant_id,
            application_id=row.application_id,
            delivery_id=row.delivery_id,
            details=details,
        )
        if chain_hash(row.prev_hash, keyed_document(document, row.key_id), key) != row.hash:
            what = "altered" if key is None else "altered, or recomputed without the key"
            self.note(row.seq, f"content does not match its hash ({what})")

    def end(self) -> None:
        last = self.expected - 1
        for seq, checkpoints in sorted(self.checkpoints.items()):
            for checkpoint in checkpoints:
                if seq > last:
                    self.note(
                        seq,
                        f"named by checkpoint {checkpoint.source}, but the chain ends at event "
                        f"{last}: events were deleted at the end",
                    )
                elif seq == 0 and checkpoint.hash == GENESIS_HASH:
                    self.reached += 1
                else:
                    self.note(seq, f"named by checkpoint {checkpoint.source}, is missing")

    def result(self) -> VerifyResult:
        first = self.breaks[0] if self.breaks else None
        return VerifyResult(
            ok=not self.breaks,
            checked=self.checked,
            first_bad_seq=first.seq if first else None,
            problem=first.problem if first else None,
            last_hash=self.prev_hash,
            last_seq=self.expected - 1,
            events=self.events,
            unkeyed=self.unkeyed,
            breaks=tuple(self.breaks),
            truncated=self.truncated,
            checkpoints_reached=self.reached,
        )


async def verify(
    engine: AsyncEngine,
    *,
    keys: AuditKeys | None = _UNSET,
    checkpoints: Sequence[Checkpoint] = (),
    limit: int = 100,
    page: int = 5000,
) -> VerifyResult:
    """Recompute the chain (with ``keys``; default: this process's) and check ``checkpoints``.

    Lists up to ``limit`` breaks; `AuditKeyError` when keyed events exist and no keys are given.
    """
    check = _Check(chaining_keys() if keys is _UNSET else keys, checkpoints, limit)
    async for row in stored_events(engine, page=page):
        check.row(row)
        if check.truncated:
            return check.result()  # enough to say: more breaks than anyone reads
    check.end()
    return check.result()


async def head(engine: AsyncEngine) -> Checkpoint:
    """The chain's last event as a checkpoint (seq 0 and the genesis hash while it is empty)."""
    last = await chain_head(engine)
    if last is None:
        return Checkpoint(0, GENESIS_HASH)
    seq, digest, at = last
    return Checkpoint(seq, digest, at.isoformat(timespec="microseconds"))


def checkpoint_line(checkpoint: Checkpoint) -> str:
    return json.dumps({"seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at})


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Checkpoints from a file: one JSON object with ``seq`` and ``hash`` per line — the lines
    ``audit checkpoint`` prints, or ``audit.checkpoint`` lines taken from the service's log."""
    found = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            value = json.loads(line)
        except ValueError:
            raise ValueError(f"{where}: not a JSON line") from None
        seq = value.get("seq") if isinstance(value, dict) else None
        digest = value.get("hash") if isinstance(value, dict) else None
        if not isinstance(seq, int) or seq < 0 or not isinstance(digest, str):
            raise ValueError(f"{where}: a checkpoint needs an integer seq and a hash")
        if not _HASH.fullmatch(digest):
            raise ValueError(f"{where}: hash must be 64 lower-case hex digits")
        at = value.get("at")
        found.append(Checkpoint(seq, digest, at if isinstance(at, str) else None, where))
    if not found:
        raise ValueError(f"{path}: holds no checkpoint")
    return found


async def log_checkpoints(engine: AsyncEngine, interval: float) -> None:
    """Log the chain's head now and every ``interval`` seconds, until cancelled."""
    while True:
        try:
            checkpoint = await head(engine)
        except Exception as exc:  # the database is away: the next round logs one
            log.warning("audit.checkpoint_failed", error=type(exc).__name__)
        else:
            log.info("audit.checkpoint", seq=checkpoint.seq, hash=checkpoint.hash, at=checkpoint.at)
        await asyncio.sleep(interval)


def start_checkpoint_log(engine: AsyncEngine, interval: float) -> asyncio.Task[None]:
    return asyncio.create_task(log_checkpoints(engine, interval), name="audit-checkpoints")
