"""Status history in SQL — inside the caller's transaction (`ozgbridge.status` decides what)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge.store import audit_log
from ozgbridge.store.tables import applications, status_history


@dataclass(frozen=True)
class StatusEntry:
    id: str
    application_id: str
    at: datetime
    source: str
    status: str
    detail: dict[str, Any]


async def tenant_of(conn: AsyncConnection, application_id: str) -> str | None:
    return (
        await conn.execute(
            select(applications.c.tenant_id).where(applications.c.id == application_id)
        )
    ).scalar_one_or_none()


async def add_entry(conn: AsyncConnection, entry: StatusEntry, *, tenant_id: str | None) -> None:
    """Store the entry and its ``application.status`` audit event."""
    await conn.execute(
        status_history.insert().values(
            id=entry.id,
            application_id=entry.application_id,
            at=entry.at,
            source=entry.source,
            status=entry.status,
            detail=json.dumps(entry.detail, sort_keys=True, separators=(",", ":")),
        )
    )
    await audit_log.append(
        conn,
        audit_log.AuditEvent(
            actor=f"status:{entry.source}",
            action="application.status",
            tenant_id=tenant_id,
            application_id=entry.application_id,
            details={"status": entry.status, "entry_id": entry.id, **_flat(entry.detail)},
        ),
    )


def _flat(detail: dict[str, Any]) -> dict[str, Any]:
    # Audit details stay flat and small: nested parts are kept as canonical JSON text.
    return {
        f"detail_{key}": value if isinstance(value, str | int | float | bool) else json.dumps(value)
        for key, value in detail.items()
    }


async def history(engine: AsyncEngine, application_id: str) -> list[StatusEntry]:
    """Every entry for the application, oldest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(status_history)
                .where(status_history.c.application_id == application_id)
                .order_by(status_history.c.at, status_history.c.id)
            )
        ).all()
    return [
        StatusEntry(
            id=row.id,
            application_id=row.application_id,
            at=row.at,
            source=row.source,
            status=row.status,
            detail=json.loads(row.detail),
        )
        for row in rows
    ]
