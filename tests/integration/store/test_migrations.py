"""`alembic upgrade head` must produce exactly the schema the models describe, on both engines."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.migrate import current_revision, ensure_current, head_revision
from ozgbridge.store.tables import metadata


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)

    assert differences == []


async def test_schema_is_at_head(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    await ensure_current(engine)
