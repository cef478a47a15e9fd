"""Migration 0003_operations on a database with data: leased deliveries become delivering, the
ladder position starts at the attempt count, the queue time at creation — and claims still work."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.engine import create_engine
from ozgbridge.store.migrate import upgrade
from ozgbridge.store.queue import DeliveryQueue
from tests.conftest import PG_ADMIN_DSN, _pg_admin, sqlalchemy_pg_url

BEFORE = "0009_status_channel"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
        return
    request.getfixturevalue("pg_template")  # skips (or fails in CI) without a server
    name = f"ozgb_mig_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield sqlalchemy_pg_url(PG_ADMIN_DSN, name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def old_engine(empty_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(empty_url, BEFORE)
    engine = create_engine(empty_url)
    yield engine
    await engine.dispose()


async def test_upgrade_renames_leased_and_sets_rung_and_queue_time(
    old_engine: AsyncEngine, empty_url: str
) -> None:
    async with old_engine.begin() as conn:
        # as each engine stores times: SQLite naive UTC, PostgreSQL with zone
        t = (
            datetime(2026, 1, 1, tzinfo=UTC)
            if conn.dialect.name == "postgresql"
            else datetime(2026, 1, 1)
        )
        await conn.execute(text(
            "INSERT INTO applications (id, tenant_id, leika_key, ars, ags, submitted_by, status,"
            " data_mime_type, data_sha256, data_size, data, received_at, updated_at) VALUES"
            " ('A1', 'erkelenz', '99050012104000', '053700004004', '05370004', 'p', 'delivering',"
            " 'application/json', :sha, 2, :data, :t, :t)"
        ), {"sha": "0" * 64, "data": b"{}", "t": t})  # fmt: skip
        for delivery_id, state, attempts in (("D1", "leased", 3), ("D2", "pending", 1)):
            await conn.execute(text(
                "INSERT INTO deliveries (id, application_id, tenant_id, route_id, connector, state,"
                " attempts, next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at)"
                " VALUES (:id, 'A1', 'erkelenz', 'gewerbe', 'http', :state, :attempts,"
                " :t, 'w-old', :t, :t, :t)"
            ), {"id": delivery_id, "state": state, "attempts": attempts, "t": t})  # fmt: skip

    await upgrade(empty_url)

    async with old_engine.connect() as conn:
        rows = {
            r.id: r
            for r in await conn.execute(
                text("SELECT id, state, attempts, rung, queued_at FROM deliveries")
            )
        }
    assert (rows["D1"].state, rows["D1"].rung) == ("delivering", 3)
    assert (rows["D2"].state, rows["D2"].rung) == ("pending", 1)
    assert rows["D1"].queued_at is not None
    # The expired lease of the old worker is claimed as before, its lost attempt noted.
    claimed = await DeliveryQueue(old_engine).claim("w-new", limit=10, lease_seconds=60)
    assert sorted((c.id, c.attempt, c.rung) for c in claimed) == [("D1", 4, 4), ("D2", 2, 2)]
