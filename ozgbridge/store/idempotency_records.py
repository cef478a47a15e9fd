"""Idempotency records: looked up many at once (intake), and past their window counted and
deleted in batches (retention) — those of API keys; an intake plug-in's stay with their
application (`ozgbridge.store.records.PLUGIN_OWNER_MARK`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.records import PLUGIN_OWNER_MARK, IdempotencyRecord
from ozgbridge.store.tables import idempotency_keys

# Past the window: API keys' records only (a plug-in's actor holds the mark, a key id never).
_EXPIRED = idempotency_keys.c.api_key_id.not_like(f"%{PLUGIN_OWNER_MARK}%")

# One API key's records by key: the primary key's index serves it on both engines (a row-value
# ``(api_key_id, key) IN (…)`` is a table scan on SQLite).
_FIND = select(idempotency_keys).where(
    idempotency_keys.c.api_key_id == bindparam("api_key_id"),
    idempotency_keys.c.key.in_(bindparam("keys", expanding=True)),
)


async def find_many(
    engine: AsyncEngine, wanted: list[tuple[str, str]]
) -> list[IdempotencyRecord | None]:
    """The record of each (API key id, Idempotency-Key) in ``wanted``, or None: one query per
    API key among them (usually one: a portal's)."""
    by_api_key: dict[str, list[str]] = {}
    for api_key_id, key in dict.fromkeys(wanted):
        by_api_key.setdefault(api_key_id, []).append(key)
    found: dict[tuple[str, str], IdempotencyRecord] = {}
    async with engine.connect() as conn:
        for api_key_id, keys in by_api_key.items():
            # Padded to a power of two (repeating a key): few distinct statements to prepare.
            padded = keys + keys[-1:] * ((1 << (len(keys) - 1).bit_length()) - len(keys))
            result = await conn.execute(_FIND, {"api_key_id": api_key_id, "keys": padded})
            for row in result:
                found[row.api_key_id, row.key] = IdempotencyRecord(
                    api_key_id=row.api_key_id,
                    key=row.key,
                    request_sha256=row.request_sha256,
                    response_status=row.response_status,
                    response_body=row.response_body,
                )
    return [found.get(pair) for pair in wanted]


async def delete_before(engine: AsyncEngine, created_before: datetime, *, limit: int) -> int:
    """Delete up to ``limit`` idempotency records created before ``created_before``."""
    table = idempotency_keys
    async with engine.begin() as conn:
        keys = (
            await conn.execute(
                select(table.c.api_key_id, table.c.key)
                .where(table.c.created_at < created_before, _EXPIRED)
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
            select(func.count()).where(idempotency_keys.c.created_at < created_before, _EXPIRED)
        )
        return int(count.scalar_one())
