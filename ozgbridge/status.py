"""Status history: what became of an application after delivery, as reported back.

Entries come from a back-end or are read by a plug-in from another system (a case event log);
each one is written together with its audit event in one transaction (SQL:
`ozgbridge.store.statuses`). ``detail`` must be non-personal (problem types and titles, event
ids, counts): it is shown to every key that may see the application.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge.domain import utcnow
from ozgbridge.ids import new_id
from ozgbridge.store import statuses
from ozgbridge.store.statuses import StatusEntry, history

__all__ = ["StatusEntry", "history", "record"]


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
    tenant_id = await statuses.tenant_of(conn, application_id)
    await statuses.add_entry(conn, entry, tenant_id=tenant_id)
    return entry
