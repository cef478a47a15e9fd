"""How large applications' contents are, from the narrow columns (no content is read)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import applications, attachments

_ATTACHED = (
    select(func.coalesce(func.sum(attachments.c.size), 0))
    .where(attachments.c.application_id == applications.c.id)
    .scalar_subquery()
)
_FILES = (
    select(func.count()).where(attachments.c.application_id == applications.c.id).scalar_subquery()
)
# Built once: the worker asks this for every claim, and building a statement cost more than
# running it (README: Benchmarks). Each application's content size, and how many attachments it
# has, so a batch without any skips their query.
SIZES_AND_FILES = select(applications.c.id, applications.c.data_size + _ATTACHED, _FILES).where(
    applications.c.id.in_(bindparam("ids", expanding=True))
)


async def payload_sizes(engine: AsyncEngine, application_ids: Sequence[str]) -> dict[str, int]:
    if not application_ids:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(SIZES_AND_FILES, {"ids": list(application_ids)})
        return {row[0]: int(row[1]) for row in rows}
