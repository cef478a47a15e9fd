"""Alembic environment: migrations run over the same async engine ozgbridge itself uses.

ozgbridge calls Alembic from a worker thread (see store/migrate.py), so this module may start its
own event loop.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from ozgbridge.store.engine import create_engine
from ozgbridge.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit(
        "offline (SQL script) migrations are not supported; run `ozgbridge db upgrade`"
    )
asyncio.run(_run_async(context.config.get_main_option("sqlalchemy.url") or ""))
