"""Retention's SQL: empty the content of finished applications (idempotency records:
`ozgbridge.store.idempotency_records`).

Purged are form data, attachment contents and file names, what back-ends answered to failed
attempts (it may quote the application), the notes of status reports and the bodies of the
portal events that are finished (sent or dead). What stays is the metadata — ids, tenant,
service, region, status, times, sizes, hashes, deliveries and attempts, status entries and the
events' ids, types, states and times — so reports, status views, the events list and the audit
chain are unaffected. Only applications whose every delivery is finished (delivered, dead or
cancelled) qualify, and each batch re-checks that under the rows' locks, so a delivery never loses
its content mid-way.

A portal event still pending (or being sent) keeps its body: like a delivery, it is never
purged mid-way. Such bodies, and notes of status reports that arrived after the content was
purged, are *leftovers*: a later run deletes them once the event is finished, or once the
application's retention has passed again since the last report (a report moves ``updated_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, func, select, tuple_, union, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge.domain import ApplicationStatus, DeliveryState
from ozgbridge.events.model import EventState
from ozgbridge.store.tables import (
    applications,
    attachments,
    attempts,
    deliveries,
    portal_events,
    status_history,
)

RoutePair = tuple[str, str]  # (tenant id, route id)
# Final states: nothing more will be delivered (cancelled: by a human; kept as long as dead).
FINISHED = (ApplicationStatus.DELIVERED, ApplicationStatus.DEAD, ApplicationStatus.CANCELLED)
# Events nobody will send again (a dead one only if replayed — refused once its body is gone).
FINISHED_EVENTS = (EventState.DELIVERED, EventState.DEAD)
# Bound parameters per statement stay far below SQLite's limit (32766).
_PAIRS_PER_STATEMENT = 500


@dataclass(frozen=True)
class Purged:
    applications: int = 0  # applications something was deleted from
    attachments: int = 0
    content_bytes: int = 0  # form data and attachments
    notes: int = 0  # notes of status reports
    event_bodies: int = 0  # bodies of finished portal events

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            self.applications + other.applications,
            self.attachments + other.attachments,
            self.content_bytes + other.content_bytes,
            self.notes + other.notes,
            self.event_bodies + other.event_bodies,
        )


async def purged_at_for_update(
    conn: AsyncConnection, application_id: str, *, lock: bool = True
) -> datetime | None:
    """When the application's content was purged (None: kept, or no such application).

    With ``lock`` (PostgreSQL: FOR UPDATE) the answer holds until the caller's transaction ends:
    a replay that checks this first cannot race a purge.
    """
    query = select(applications.c.content_purged_at).where(applications.c.id == application_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).scalar_one_or_none()


def _leftover_ids() -> Select[tuple[str]]:
    """Applications with a note, or a finished event's body, still stored (partial indexes)."""
    noted = select(status_history.c.application_id).where(status_history.c.note.is_not(None))
    bodies = select(portal_events.c.application_id).where(
        portal_events.c.body.is_not(None), portal_events.c.state.in_(FINISHED_EVENTS)
    )
    return select(union(noted, bodies).subquery().c.application_id)


def _holding(leftovers: bool) -> ColumnElement[bool]:
    """Content still stored — or, with ``leftovers``, content purged but notes or finished
    events' bodies still stored."""
    if not leftovers:
        return applications.c.content_purged_at.is_(None)
    return applications.c.content_purged_at.is_not(None) & applications.c.id.in_(_leftover_ids())


async def routes_holding_content(engine: AsyncEngine) -> list[RoutePair]:
    """The (tenant, route) pairs of finished applications with personal data still stored."""
    pairs: set[RoutePair] = set()
    async with engine.connect() as conn:
        for leftovers in (False, True):
            rows = await conn.execute(
                select(deliveries.c.tenant_id, deliveries.c.route_id)
                .distinct()
                .join(applications, applications.c.id == deliveries.c.application_id)
                .where(_holding(leftovers), applications.c.status.in_(FINISHED))
            )
            pairs.update((row.tenant_id, row.route_id) for row in rows)
    return sorted(pairs)


def _due(
    status: ApplicationStatus,
    finished_before: datetime,
    pairs: Sequence[RoutePair],
    *,
    leftovers: bool,
) -> Select[tuple[str, int]]:
    """Applications in ``status`` since before ``finished_before`` on one of ``pairs``, holding
    personal data (see `_holding`), no delivery unfinished."""
    on_route = exists(
        select(1).where(
            deliveries.c.application_id == applications.c.id,
            tuple_(deliveries.c.tenant_id, deliveries.c.route_id).in_(pairs),
        )
    )
    unfinished = exists(
        select(1).where(
            deliveries.c.application_id == applications.c.id,
            deliveries.c.state.in_((DeliveryState.PENDING, DeliveryState.DELIVERING)),
        )
    )
    return select(applications.c.id, applications.c.data_size).where(
        _holding(leftovers),
        applications.c.status == status,
        applications.c.updated_at <= finished_before,
        on_route,
        ~unfinished,
    )


def _chunks(pairs: Sequence[RoutePair]) -> list[Sequence[RoutePair]]:
    return [pairs[i : i + _PAIRS_PER_STATEMENT] for i in range(0, len(pairs), _PAIRS_PER_STATEMENT)]


async def purge_batch(
    engine: AsyncEngine,
    status: ApplicationStatus,
    finished_before: datetime,
    pairs: Sequence[RoutePair],
    *,
    limit: int,
    now: datetime,
    leftovers: bool = False,
) -> Purged:
    """Purge up to ``limit`` due applications in one transaction; fewer means none are left.

    ``leftovers``: applications whose content is gone already, for their notes and event bodies.
    """
    total = Purged()
    for chunk in _chunks(pairs):
        left = limit - total.applications
        if left <= 0:
            break
        async with engine.begin() as conn:
            # PostgreSQL: lock the chosen rows, skip rows another purger (or a replay) holds.
            due = (
                await conn.execute(
                    _due(status, finished_before, chunk, leftovers=leftovers)
                    .order_by(applications.c.updated_at)
                    .limit(left)
                    .with_for_update(skip_locked=True, of=applications)
                )
            ).all()
            if not due:
                continue
            ids = [row.id for row in due]
            if leftovers:
                done = Purged(len(ids))
            else:
                done = await _purge_content(conn, ids, now)
                done += Purged(content_bytes=sum(row.data_size for row in due))
            total += done + await _purge_notes_and_event_bodies(conn, ids)
    return total


async def _purge_content(conn: AsyncConnection, ids: list[str], now: datetime) -> Purged:
    files, file_bytes = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(attachments.c.size), 0)).where(
                attachments.c.application_id.in_(ids)
            )
        )
    ).one()
    await conn.execute(
        update(applications)
        .where(applications.c.id.in_(ids))
        .values(data=b"", data_key_id=None, content_purged_at=now)
    )
    await conn.execute(
        update(attachments)
        .where(attachments.c.application_id.in_(ids))
        .values(content=b"", filename=b"", key_id=None)
    )
    # What back-ends answered may quote the application: it goes with the content.
    await conn.execute(
        update(attempts)
        .where(
            attempts.c.delivery_id.in_(
                select(deliveries.c.id).where(deliveries.c.application_id.in_(ids))
            ),
            attempts.c.response_excerpt.is_not(None),
        )
        .values(response_excerpt=None, response_key_id=None)
    )
    return Purged(len(ids), int(files), int(file_bytes))


async def _purge_notes_and_event_bodies(conn: AsyncConnection, ids: list[str]) -> Purged:
    # An authority's free-text notes are personal data too; status, times, file reference stay.
    notes = await conn.execute(
        update(status_history)
        .where(status_history.c.application_id.in_(ids), status_history.c.note.is_not(None))
        .values(note=None, note_key_id=None)
    )
    # The events carry the notes. Ids, types, states and times stay for the list and the audit;
    # a pending one keeps its body until it is sent or dead (a later run takes it then).
    bodies = await conn.execute(
        update(portal_events)
        .where(
            portal_events.c.application_id.in_(ids),
            portal_events.c.body.is_not(None),
            portal_events.c.state.in_(FINISHED_EVENTS),
        )
        .values(body=None, body_key_id=None)
    )
    return Purged(notes=notes.rowcount, event_bodies=bodies.rowcount)


async def count_due(
    engine: AsyncEngine,
    status: ApplicationStatus,
    finished_before: datetime,
    pairs: Sequence[RoutePair],
    *,
    leftovers: bool = False,
) -> Purged:
    """What `purge_batch` would purge, all of it (for ``--dry-run``)."""
    total = Purged()
    async with engine.connect() as conn:
        for chunk in _chunks(pairs):
            due = _due(status, finished_before, chunk, leftovers=leftovers).subquery()
            apps, data_bytes = (
                await conn.execute(
                    select(func.count(), func.coalesce(func.sum(due.c.data_size), 0))
                )
            ).one()
            files, file_bytes = 0, 0
            if not leftovers:
                files, file_bytes = (
                    await conn.execute(
                        select(func.count(), func.coalesce(func.sum(attachments.c.size), 0)).where(
                            attachments.c.application_id.in_(select(due.c.id))
                        )
                    )
                ).one()
                file_bytes += data_bytes
            notes = await conn.scalar(
                select(func.count()).where(
                    status_history.c.application_id.in_(select(due.c.id)),
                    status_history.c.note.is_not(None),
                )
            )
            bodies = await conn.scalar(
                select(func.count()).where(
                    portal_events.c.application_id.in_(select(due.c.id)),
                    portal_events.c.body.is_not(None),
                    portal_events.c.state.in_(FINISHED_EVENTS),
                )
            )
            total += Purged(
                int(apps), int(files), int(file_bytes), int(notes or 0), int(bodies or 0)
            )
    return total
