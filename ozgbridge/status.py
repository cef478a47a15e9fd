"""Status history: what became of an application after delivery, as reported back.

Entries come from a back-end or are read from a FIT-Connect case event log; each one is written
together with its audit event in one transaction. ``detail`` must be non-personal (problem
types and titles, event ids, counts): it is shown to every key that may see the application.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge import audit
from ozgbridge.domain import utcnow
from ozgbridge.ids import new_id
from ozgbridge.store.tables import applications, status_history


@dataclass(frozen=True)
class StatusEntry:
    id: str
    application_id: str
    at: datetime
    source: str
    status: str
    detail: dict[str, Any]


async def record(
    conn: AsyncConnection,
    *,
    application_id: str,
    source: str,
    status: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> StatusEntry:
    """Append one entry and its ``application.status`` audit event inside ``conn``'s transaction."""
    entry = StatusEntry(
        id=new_id(),
        application_id=application_id,
        at=at or utcnow(),
        source=source,
        status=status,
        detail=dict(detail or {}),
    )
    await conn.execute(
        status_history.insert().values(
            id=entry.id,
            application_id=application_id,
            at=entry.at,
            source=source,
            status=status,
            detail=json.dumps(entry.detail, sort_keys=True, separators=(",", ":")),
        )
    )
    tenant_id = (
        await conn.execute(
            select(applications.c.tenant_id).where(applications.c.id == application_id)
        )
    ).scalar_one_or_none()
    await audit.append(
        conn,
        audit.AuditEvent(
            actor=f"status:{source}",
            action="application.status",
            tenant_id=tenant_id,
            application_id=application_id,
            details={"status": status, "entry_id": entry.id, **_flat(entry.detail)},
        ),
    )
    return entry


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
