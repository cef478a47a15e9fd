"""How large applications' contents are, from the narrow columns (no content is read)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import applications, attachments


async def payload_sizes(engine: AsyncEngine, application_ids: Sequence[str]) -> dict[str, int]:
    if not application_ids:
        return {}
    attached = (
        select(func.coalesce(func.sum(attachments.c.size), 0))
        .where(attachments.c.application_id == applications.c.id)
        .scalar_subquery()
    )
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(applications.c.id, applications.c.data_size + attached).where(
                applications.c.id.in_(application_ids)
            )
        )
        return {row[0]: int(row[1]) for row in rows}
