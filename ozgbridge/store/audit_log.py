"""Tamper-evident audit log: an append-only, hash-chained list of events.

Each event stores a sequence number, time, actor, action, subject ids and non-personal details, and
``hash = HMAC-SHA-256(audit key, prev_hash + canonical_json(event))`` with the id of the key
(``key_id``; see audit_keys.py). Events from before keyed chaining have no key id and
``hash = sha256(prev_hash + canonical_json(event))``; they verify as they always did. Changing,
removing or reordering any stored event breaks the chain from that event on, and without the key
nobody can recompute it; `ozgbridge.audit_verify` lists every broken link (reading the chain
with `stored_events` and `chain_head` here).

Events are appended inside the caller's transaction, so a state change and its audit event commit
together or not at all. Appends are serialised (SQLite: the write lock every transaction takes;
PostgreSQL: a transaction-scoped advisory lock) so the chain stays one line with many writers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit_keys
from ozgbridge.audit_keys import AuditKeyError, AuditKeys
from ozgbridge.domain import utcnow
from ozgbridge.store.audit_format import (
    AuditEvent,
    canonical_json,
    chain_hash,
    document_json,
    event_document,
    keyed_document,
    link,
)
from ozgbridge.store.bulk_insert import insert_rows
from ozgbridge.store.tables import audit_events

# The hashed format's names too: callers (ozgbridge.audit, plug-in state) know them from here.
__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "append",
    "canonical_json",
    "chain_hash",
    "chain_head",
    "chaining_keys",
    "event_document",
    "keyed_document",
    "record",
    "reset_keys",
    "stored_events",
    "use_keys",
]

log = structlog.get_logger("ozgbridge.audit")

GENESIS_HASH = "0" * 64
# Arbitrary but fixed: the advisory lock id that serialises audit appends on PostgreSQL.
_PG_AUDIT_LOCK = 0x6F7A6762_61756474 & 0x7FFFFFFFFFFFFFFF

# Detail keys that would smell of personal data; a programming error, caught in tests.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"name", "filename", "address", "content", "data", "email", "body", "form", "birthdate"}
)
# Built once: SQLAlchemy then finds each compiled in its cache without building it per append.
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_LOCK_AND_NOTIFY = text("SELECT pg_advisory_xact_lock(:k), pg_notify(:channel, '')")
_HEAD = (
    select(audit_events.c.seq, audit_events.c.hash, audit_events.c.key_id)
    .order_by(audit_events.c.seq.desc())
    .limit(1)
)


_UNSET = object()
_keys: Any = _UNSET


def use_keys(keys: AuditKeys | None) -> None:
    """The keys this process chains with (None: plain SHA-256); services set them at start."""
    global _keys  # noqa: PLW0603 - one setting of the whole process, like its logging
    _keys = keys


def swap_keys(loaded: AuditKeys) -> dict[str, Any] | None:
    """Chain with the keys a reload read, if they differ from those in use; what changed, by
    key id (`audit_keys.changes`), or None. Appends take the keys once each, so an append in
    flight finishes with the keys it started with."""
    changed = audit_keys.changes(chaining_keys(), loaded)
    if changed is None:
        return None
    use_keys(loaded)
    log.info(
        "audit_key.reloaded",
        path=str(loaded.source),
        chaining_key=changed["chaining_key"],
        previous_chaining_key=changed["previous_chaining_key"],
        keys=len(loaded.keys),
    )
    if changed["removed"]:
        log.warning(
            "audit_key.removed",
            key_ids=changed["removed"],
            hint="events chained under these keys no longer verify with this process's keys; "
            "keep every key as long as its events are to be verified",
        )
    return changed


def reset_keys() -> None:
    """Forget the keys: the next append looks them up in the environment again."""
    global _keys  # noqa: PLW0603
    _keys = _UNSET


def chaining_keys() -> AuditKeys | None:
    """The process's keys; where nobody set them (command-line tools), from the environment."""
    if _keys is _UNSET:
        use_keys(audit_keys.from_environment())
    keys: AuditKeys | None = _keys
    return keys


async def append(conn: AsyncConnection, *events: AuditEvent, notify: str | None = None) -> int:
    """Append events inside the caller's transaction; returns the last sequence number.

    ``notify``: on PostgreSQL, a channel to notify when the transaction commits (see
    store/notify.py), queued by the statement that takes the chain's lock — one round trip
    instead of two. Ignored elsewhere.
    """
    if not events:
        raise ValueError("append needs at least one event")
    if conn.dialect.name == "postgresql":
        if notify is None:
            await conn.execute(_LOCK, {"k": _PG_AUDIT_LOCK})
        else:
            await conn.execute(_LOCK_AND_NOTIFY, {"k": _PG_AUDIT_LOCK, "channel": notify})
    keys = chaining_keys()
    key = keys.primary if keys is not None else None
    # Its own statement after the lock: in READ COMMITTED a statement sees what was committed
    # when it began, so one that waited for the lock could miss the head its holder appended.
    last = (await conn.execute(_HEAD)).first()
    if last is not None and last.key_id is not None and key is None:
        raise AuditKeyError(
            f"the audit log is chained with audit key {last.key_id!r}, and this process has no "
            "audit key: set OZGBRIDGE_AUDIT_KEY"
        )
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    key_id = key.id if key is not None else None
    at = utcnow()
    at_text = at.isoformat(timespec="microseconds")  # as event_document writes it
    rows = []
    for event in events:
        bad = _FORBIDDEN_DETAIL_KEYS.intersection(event.details)
        if bad:
            raise ValueError(f"audit details must not carry personal data: {sorted(bad)}")
        seq += 1
        details_json = canonical_json(dict(event.details))
        document = document_json(
            event, seq=seq, at=at, at_text=at_text, details_json=details_json, key_id=key_id
        )
        digest = link(prev_hash, document, key)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": event.actor,
                "action": event.action,
                "tenant_id": event.tenant_id,
                "application_id": event.application_id,
                "delivery_id": event.delivery_id,
                "details": details_json,
                "prev_hash": prev_hash,
                "hash": digest,
                "key_id": key_id,
            }
        )
        prev_hash = digest
    await insert_rows(conn, audit_events, rows)
    return seq


async def record(engine: AsyncEngine, *events: AuditEvent) -> int:
    """Append events in a transaction of their own (for events not tied to a state change)."""
    async with engine.begin() as conn:
        return await append(conn, *events)


async def stored_events(engine: AsyncEngine, *, page: int = 5000) -> AsyncIterator[Any]:
    """Every stored event in chain order, read ``page`` rows at a time (each its own read)."""
    after = 0
    while True:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(audit_events)
                    .where(audit_events.c.seq > after)
                    .order_by(audit_events.c.seq)
                    .limit(page)
                )
            ).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq


async def chain_head(engine: AsyncEngine) -> tuple[int, str, datetime] | None:
    """(seq, hash, time) of the chain's last event; None while it is empty."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(audit_events.c.seq, audit_events.c.hash, audit_events.c.at)
                .order_by(audit_events.c.seq.desc())
                .limit(1)
            )
        ).first()
    return None if row is None else (row.seq, row.hash, row.at)
