"""Status reports in SQL — inside the caller's transaction: the cases, the history entries.

`lock_case` reads an application for a status report and, on PostgreSQL, locks it (and first its
deliveries, in id order — the order outcome recording locks them in, so the two never deadlock):
reports on one application are taken one after another, so the rules see the status the last
report left, and its portal events get their order.

A note is sealed before it is written and opened only when the history is read for showing
(`history`); see `ozgbridge.dataprotection.sealing`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import Sealer, status_note_aad
from ozgbridge.domain import RegionRef
from ozgbridge.errors import DataProtectionError
from ozgbridge.store.records import IdempotencyRecord
from ozgbridge.store.tables import (
    applications,
    deliveries,
    idempotency_keys,
    status_history,
)

log = structlog.get_logger("ozgbridge.store")


@dataclass(frozen=True)
class StatusEntry:
    id: str
    application_id: str
    at: datetime
    source: str
    status: str
    detail: dict[str, Any]
    # Personal data: shown to the keys that may see the application, never logged or audited.
    note: str | None = None
    file_reference: str | None = None


@dataclass(frozen=True)
class Case:
    """An application as a status report needs it (never its content)."""

    id: str
    tenant_id: str
    leika_key: str
    region: RegionRef
    reference: str | None
    submitted_by: str
    status: str
    processing_status: str | None
    portal_events: bool


_CASE_COLUMNS = (
    applications.c.id,
    applications.c.tenant_id,
    applications.c.leika_key,
    applications.c.ars,
    applications.c.ags,
    applications.c.reference,
    applications.c.submitted_by,
    applications.c.status,
    applications.c.processing_status,
    applications.c.portal_events,
)


def _case(row: Any) -> Case:
    return Case(
        id=row.id,
        tenant_id=row.tenant_id,
        leika_key=row.leika_key,
        region=RegionRef(ars=row.ars, ags=row.ags),
        reference=row.reference,
        submitted_by=row.submitted_by,
        status=row.status,
        processing_status=row.processing_status,
        portal_events=bool(row.portal_events),
    )


async def lock_case(conn: AsyncConnection, application_id: str) -> Case | None:
    if conn.dialect.name == "postgresql":
        await conn.execute(
            select(deliveries.c.id)
            .where(deliveries.c.application_id == application_id)
            .order_by(deliveries.c.id)
            .with_for_update()
        )
    query = select(*_CASE_COLUMNS).where(applications.c.id == application_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return None if row is None else _case(row)


# Built once: recording outcomes asks it for every batch. SQLite renders no FOR UPDATE (its
# transaction holds the database's write lock already).
_LOCK_CASES = (
    select(*_CASE_COLUMNS)
    .where(applications.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(applications.c.id)
    .with_for_update()
)


async def lock_cases(conn: AsyncConnection, application_ids: Sequence[str]) -> dict[str, Case]:
    """Several applications, locked in id order on PostgreSQL — for a transaction that holds the
    locks of (some of) their deliveries already (recording delivery outcomes)."""
    ids = {"ids": sorted(set(application_ids))}
    return {row.id: _case(row) for row in await conn.execute(_LOCK_CASES, ids)}


async def add_entry(
    conn: AsyncConnection, entry: StatusEntry, *, tenant_id: str | None, sealer: Sealer
) -> None:
    """Store the entry (its note sealed), make it the application's processing status, audit it
    (never the note)."""
    sealer = sealer.pinned()
    note = (
        None
        if entry.note is None
        else sealer.seal(entry.note.encode("utf-8"), status_note_aad(entry.id))
    )
    await conn.execute(
        status_history.insert().values(
            id=entry.id,
            application_id=entry.application_id,
            at=entry.at,
            source=entry.source,
            status=entry.status,
            detail=json.dumps(entry.detail, sort_keys=True, separators=(",", ":")),
            note=note,
            note_key_id=sealer.key_id if note is not None else None,
            file_reference=entry.file_reference,
        )
    )
    await conn.execute(
        update(applications)
        .where(applications.c.id == entry.application_id)
        .values(processing_status=entry.status, updated_at=entry.at)
    )
    await audit.append(
        conn,
        audit.AuditEvent(
            actor=f"status:{entry.source}",
            action="application.status",
            tenant_id=tenant_id,
            application_id=entry.application_id,
            details={
                "status": entry.status,
                "entry_id": entry.id,
                # That there is a note, and its size: never its text.
                "note_chars": len(entry.note) if entry.note else 0,
                "file_reference_given": entry.file_reference is not None,
                **_flat(entry.detail),
            },
        ),
    )


def _flat(detail: dict[str, Any]) -> dict[str, Any]:
    # Audit details stay flat and small: nested parts are kept as canonical JSON text.
    return {
        f"detail_{key}": value if isinstance(value, str | int | float | bool) else json.dumps(value)
        for key, value in detail.items()
    }


async def remember(
    conn: AsyncConnection, record: IdempotencyRecord, application_id: str, at: datetime
) -> None:
    """Keep the answer to a status report sent with an Idempotency-Key (IntegrityError if that
    key was taken meanwhile)."""
    await conn.execute(
        idempotency_keys.insert().values(
            api_key_id=record.api_key_id,
            key=record.key,
            request_sha256=record.request_sha256,
            application_id=application_id,
            response_status=record.response_status,
            response_body=record.response_body,
            created_at=at,
        )
    )


def _note(sealer: Sealer, row: Any) -> str | None:
    if row.note is None:
        return None
    try:
        note = sealer.open(
            row.note,
            row.note_key_id,
            status_note_aad(row.id),
            what=f"the note of status entry {row.id}",
        )
    except DataProtectionError as exc:
        # The history is still shown; the operator learns which key is missing.
        log.warning(
            "store.content_unreadable",
            application_id=row.application_id,
            status_entry_id=row.id,
            error=type(exc).__name__,
            key_id=getattr(exc, "key_id", None),
        )
        return None
    return note.decode("utf-8")


def _entry(sealer: Sealer, row: Any) -> StatusEntry:
    return StatusEntry(
        id=row.id,
        application_id=row.application_id,
        at=row.at,
        source=row.source,
        status=row.status,
        detail=json.loads(row.detail),
        note=_note(sealer, row),
        file_reference=row.file_reference,
    )


async def history(engine: AsyncEngine, application_id: str, sealer: Sealer) -> list[StatusEntry]:
    """Every entry for the application, oldest first, notes opened with ``sealer``."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(status_history)
                .where(status_history.c.application_id == application_id)
                .order_by(status_history.c.at, status_history.c.id)
            )
        ).all()
    return [_entry(sealer, row) for row in rows]
