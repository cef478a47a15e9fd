"""Status history: what became of an application after delivery, as reported back.

Entries come from the status endpoint (`ozgbridge.status_desk`), from a back-end's answer to a
delivery, or are read from a FIT-Connect case event log (`record`). Each is written together with
its audit event and its portal event in one transaction. ``detail`` must be non-personal (problem
types and titles, event ids, counts); the ``note`` is text for the applicant — personal data:
stored sealed (as is the portal event carrying it), shown to the keys that may see the
application and sent to its portal, never logged or audited.

Codes are normalised on the way in (`ozgbridge.status_rules.normalise`): FIT-Connect's
``accepted`` (accept-submission) is stored as ``confirmed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import utcnow
from ozgbridge.events.model import EventType, NewEvent
from ozgbridge.ids import new_id
from ozgbridge.status_rules import normalise
from ozgbridge.store import outbox, statuses
from ozgbridge.store.forwardings import Forwarding, forwarded_from
from ozgbridge.store.statuses import Case, StatusEntry, history

__all__ = ["Forwarding", "StatusEntry", "forwarded_from", "history", "record", "status_event"]


async def record(
    conn: AsyncConnection,
    *,
    application_id: str,
    source: str,
    status: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    note: str | None = None,
    file_reference: str | None = None,
    sealer: Sealer,
) -> StatusEntry:
    """Append one entry, its audit event and its portal event inside ``conn``'s transaction.

    For statuses another system decided (FIT-Connect): no rules apply, and ``status`` may be one
    of the codes `normalise` knows; anything else is a programming error (ValueError).
    """
    code = normalise(status)
    case = await statuses.lock_case(conn, application_id)
    entry = StatusEntry(
        id=new_id(),
        application_id=application_id,
        at=at or utcnow(),
        source=source,
        status=str(code),
        detail=dict(detail or {}),
        note=note,
        file_reference=file_reference,
    )
    await statuses.add_entry(conn, entry, tenant_id=case.tenant_id if case else None, sealer=sealer)
    if case is not None:
        await outbox.enqueue(conn, status_event(case, entry), notify=True, sealer=sealer)
    return entry


def status_event(case: Case, entry: StatusEntry) -> list[NewEvent]:
    """The ``application.status`` event for the portal that submitted ``case``, if it listens."""
    if not case.portal_events:
        return []
    return [
        NewEvent(
            id=new_id(),
            type=EventType.STATUS,
            application_id=case.id,
            key_id=case.submitted_by,
            reference=case.reference,
            occurred_at=entry.at,
            data={
                "status": entry.status,
                "note": entry.note,
                "fileReference": entry.file_reference,
                "tenant": case.tenant_id,
            },
        )
    ]
