"""Tamper-evident audit log: an append-only, hash-chained list of events.

Each event stores a sequence number, time, actor, action, subject ids and non-personal details, and
``hash = sha256(prev_hash + canonical_json(event))``. Changing, removing or reordering any stored
event breaks the chain from that event on; `verify` names the first broken link.

Events are appended inside the caller's transaction, so a state change and its audit event commit
together or not at all. Appends are serialised (SQLite: the write lock every transaction takes;
PostgreSQL: a transaction-scoped advisory lock) so the chain stays one line with many writers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge.domain import utcnow
from ozgbridge.store.tables import audit_events

GENESIS_HASH = "0" * 64
# Arbitrary but fixed: the advisory lock id that serialises audit appends on PostgreSQL.
_PG_AUDIT_LOCK = 0x6F7A6762_61756474 & 0x7FFFFFFFFFFFFFFF

# Detail keys that would smell of personal data; a programming error, caught in tests.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"name", "filename", "address", "content", "data", "email", "body", "form", "birthdate"}
)


@dataclass(frozen=True)
class AuditEvent:
    actor: str
    action: str
    tenant_id: str | None = None
    application_id: str | None = None
    delivery_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_document(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    tenant_id: str | None,
    application_id: str | None,
    delivery_id: str | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """The exact fields the hash covers."""
    return {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "tenant_id": tenant_id,
        "application_id": application_id,
        "delivery_id": delivery_id,
        "details": dict(details),
    }


def chain_hash(prev_hash: str, document: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(document)).encode("utf-8")).hexdigest()


async def append(conn: AsyncConnection, *events: AuditEvent) -> int:
    """Append events inside the caller's transaction; returns the last sequence number."""
    if not events:
        raise ValueError("append needs at least one event")
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = (
        await conn.execute(
            select(audit_events.c.seq, audit_events.c.hash)
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    at = utcnow()
    rows = []
    for event in events:
        bad = _FORBIDDEN_DETAIL_KEYS.intersection(event.details)
        if bad:
            raise ValueError(f"audit details must not carry personal data: {sorted(bad)}")
        seq += 1
        document = event_document(
            seq=seq,
            at=at,
            actor=event.actor,
            action=event.action,
            tenant_id=event.tenant_id,
            application_id=event.application_id,
            delivery_id=event.delivery_id,
            details=event.details,
        )
        digest = chain_hash(prev_hash, document)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": event.actor,
                "action": event.action,
                "tenant_id": event.tenant_id,
                "application_id": event.application_id,
                "delivery_id": event.delivery_id,
                "details": canonical_json(dict(event.details)),
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    await conn.execute(audit_events.insert(), rows)
    return seq


async def record(engine: AsyncEngine, *events: AuditEvent) -> int:
    """Append events in a transaction of their own (for events not tied to a state change)."""
    async with engine.begin() as conn:
        return await append(conn, *events)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    last_hash: str = GENESIS_HASH


async def _stored_events(engine: AsyncEngine, page: int) -> AsyncIterator[Any]:
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


async def verify(engine: AsyncEngine, *, page: int = 5000) -> VerifyResult:
    """Recompute the whole chain; stop at the first event that does not fit."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    async for row in _stored_events(engine, page):
        if row.seq != expected_seq:
            return VerifyResult(
                False, checked, expected_seq, f"event {expected_seq} is missing", prev_hash
            )
        try:
            details = json.loads(row.details)
        except ValueError:
            return VerifyResult(False, checked, row.seq, "details are not JSON", prev_hash)
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
        if row.prev_hash != prev_hash:
            return VerifyResult(
                False, checked, row.seq, "prev_hash does not match the previous event", prev_hash
            )
        if chain_hash(prev_hash, document) != row.hash:
            return VerifyResult(
                False, checked, row.seq, "content does not match its hash (altered)", prev_hash
            )
        prev_hash = row.hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked, last_hash=prev_hash)
