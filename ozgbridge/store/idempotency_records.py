"""Idempotency records past their window: counted, and deleted in batches (retention)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import idempotency_keys


async def delete_before(engine: AsyncEngine, created_before: datetime, *, limit: int) -> int:
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


async def count_before(engine: AsyncEngine, created_before: datetime) -> int:
    async with engine.connect() as conn:
        count = await conn.execute(
            select(func.count()).where(idempotency_keys.c.created_at < created_before)
        )
        return int(count.scalar_one())
