"""Retention's SQL: empty the content of finished applications, delete old idempotency records.

Purged are form data, attachment contents and file names, what back-ends answered to failed
attempts (it may quote the application) and the notes of status reports. What stays is the
metadata — ids, tenant, service, region, status, times, sizes, hashes, deliveries and attempts —
so reports, status views and the audit chain are unaffected. Only applications whose every
delivery is finished (delivered, dead or cancelled) qualify, and each batch re-checks that under
the rows' locks, so a delivery never loses its content mid-way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge.domain import ApplicationStatus, DeliveryState
from ozgbridge.store.tables import (
    applications,
    attachments,
    attempts,
    deliveries,
    idempotency_keys,
    status_history,
)

RoutePair = tuple[str, str]  # (tenant id, route id)
# Final states: nothing more will be delivered (cancelled: by a human; kept as long as dead).
FINISHED = (ApplicationStatus.DELIVERED, ApplicationStatus.DEAD, ApplicationStatus.CANCELLED)
# Bound parameters per statement stay far below SQLite's limit (32766).
_PAIRS_PER_STATEMENT = 500


@dataclass(frozen=True)
class Purged:
    applications: int = 0
    attachments: int = 0
    content_bytes: int = 0

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            self.applications + other.applications,
            self.attachments + other.attachments,
            self.content_bytes + other.content_bytes,
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


async def routes_holding_content(engine: AsyncEngine) -> list[RoutePair]:
    """The (tenant, route) pairs of finished applications whose content is still stored."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.tenant_id, deliveries.c.route_id)
            .distinct()
            .join(applications, applications.c.id == deliveries.c.application_id)
            .where(applications.c.content_purged_at.is_(None), applications.c.status.in_(FINISHED))
        )
        return [(row.tenant_id, row.route_id) for row in rows]


def _due(
    status: ApplicationStatus, finished_before: datetime, pairs: Sequence[RoutePair]
) -> Select[tuple[str, int]]:
    """Applications in ``status`` since before ``finished_before`` on one of ``pairs``, content
    still stored, no delivery unfinished."""
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
        applications.c.content_purged_at.is_(None),
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
) -> Purged:
    """Purge up to ``limit`` due applications in one transaction; fewer means none are left."""
    total = Purged()
    for chunk in _chunks(pairs):
        left = limit - total.applications
        if left <= 0:
            break
        async with engine.begin() as conn:
            # PostgreSQL: lock the chosen rows, skip rows another purger (or a replay) holds.
            due = (
                await conn.execute(
                    _due(status, finished_before, chunk)
                    .order_by(applications.c.updated_at)
                    .limit(left)
                    .with_for_update(skip_locked=True, of=applications)
                )
            ).all()
            if not due:
                continue
            ids = [row.id for row in due]
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
            # An authority's free-text notes are personal data too; status and times stay.
            await conn.execute(
                update(status_history)
                .where(status_history.c.application_id.in_(ids), status_history.c.note.is_not(None))
                .values(note=None)
            )
        total += Purged(len(ids), int(files), sum(row.data_size for row in due) + int(file_bytes))
    return total


async def count_due(
    engine: AsyncEngine,
    status: ApplicationStatus,
    finished_before: datetime,
    pairs: Sequence[RoutePair],
) -> Purged:
    """What `purge_batch` would purge, all of it (for ``--dry-run``)."""
    total = Purged()
    async with engine.connect() as conn:
        for chunk in _chunks(pairs):
            due = _due(status, finished_before, chunk).subquery()
            apps, data_bytes = (
                await conn.execute(
                    select(func.count(), func.coalesce(func.sum(due.c.data_size), 0))
                )
            ).one()
            files, file_bytes = (
                await conn.execute(
                    select(func.count(), func.coalesce(func.sum(attachments.c.size), 0)).where(
                        attachments.c.application_id.in_(select(due.c.id))
                    )
                )
            ).one()
            total += Purged(int(apps), int(files), int(data_bytes) + int(file_bytes))
    return total


async def delete_idempotency_records(
    engine: AsyncEngine, created_before: datetime, *, limit: int
) -> int:
    """Delete up to ``limit`` idempotency records created before ``created_before``."""
    table = idempotency_keys
    async with engine.begin() as conn:
        keys = (
            await conn.execute(
                select(table.c.api_key_id, table.c.key)
                .where(table.c.created_at < created_before)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not keys:
            return 0
        await conn.execute(
            table.delete().where(
                tuple_(table.c.api_key_id, table.c.key).in_([(k.api_key_id, k.key) for k in keys])
            )
        )
        return len(keys)


async def count_idempotency_records(engine: AsyncEngine, created_before: datetime) -> int:
    async with engine.connect() as conn:
        count = await conn.execute(
            select(func.count()).where(idempotency_keys.c.created_at < created_before)
        )
        return int(count.scalar_one())
