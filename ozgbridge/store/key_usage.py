"""When each API key was last used: one upsert per flush for every key used since the last."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import api_key_usage


async def record_key_usage(engine: AsyncEngine, used: Mapping[str, datetime]) -> None:
    """Advance each key's last use to the given time (never back: processes flush in any order)."""
    if not used:
        return
    table = api_key_usage
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(table).values(
        [{"key_id": key_id, "last_used_at": at} for key_id, at in sorted(used.items())]
    )
    later = statement.excluded.last_used_at > table.c.last_used_at
    statement = statement.on_conflict_do_update(
        index_elements=["key_id"],
        set_={
            "last_used_at": case(
                (later, statement.excluded.last_used_at), else_=table.c.last_used_at
            )
        },
    )
    async with engine.begin() as conn:
        await conn.execute(statement)


async def key_usage(engine: AsyncEngine) -> dict[str, datetime]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(api_key_usage))
        return {row.key_id: row.last_used_at for row in rows}
