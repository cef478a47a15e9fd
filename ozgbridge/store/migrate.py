"""Schema migrations (Alembic), driven from code: no alembic.ini to ship or keep in sync."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.errors import SchemaOutdatedError
from ozgbridge.store.engine import DATABASE_ERRORS, unusable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic reads options through ConfigParser, which treats "%" as interpolation.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; runs Alembic in a thread (it starts its own loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)


async def ensure_current(engine: AsyncEngine) -> None:
    """Raise `SchemaOutdatedError` with what to run unless the schema is at head."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    state = "empty (no ozgbridge tables yet)" if current is None else f"at revision {current}"
    raise SchemaOutdatedError(
        f"the database schema is {state}, this version of ozgbridge needs {head}: "
        "run `ozgbridge db upgrade` (or start with --upgrade)"
    )


async def prepare(engine: AsyncEngine, database_url: str, *, upgrade_first: bool) -> None:
    """What a service does first with its database: upgrade the schema if asked, then check it
    (`ensure_current`). A database that cannot be reached or used raises `DatabaseUnavailable`
    naming it, so that start-up fails with one line instead of the driver's traceback."""
    try:
        if upgrade_first:
            await upgrade(database_url)
        await ensure_current(engine)
    except DATABASE_ERRORS as exc:
        raise unusable(database_url, exc) from exc
