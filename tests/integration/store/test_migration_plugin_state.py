"""Migration 0011: FIT-Connect's own table becomes plug-in records, and back, on both engines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import update

from ozgbridge.store.engine import create_engine
from ozgbridge.store.migrate import alembic_config, upgrade
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import UTCDateTime, deliveries
from tests.conftest import PG_ADMIN_DSN, _pg_admin, sqlalchemy_pg_url
from tests.factories import new_application

BEFORE, AFTER = "0010_hardening", "0011_plugin_state"
CREATED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
UPDATED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
legacy = sa.table(
    "fitconnect_submissions",
    sa.column("submission_id", sa.String),
    sa.column("direction", sa.String),
    sa.column("application_id", sa.String),
    sa.column("destination_id", sa.String),
    sa.column("case_id", sa.String),
    sa.column("state", sa.String),
    sa.column("events_seen", sa.Integer),
    sa.column("created_at", UTCDateTime),
    sa.column("updated_at", UTCDateTime),
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    request.getfixturevalue("pg_template")  # skips (or fails under CI) without a server
    name = f"ozgb_mig_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield sqlalchemy_pg_url(PG_ADMIN_DSN, name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def uid() -> str:
    return str(uuid.uuid4())


async def test_submissions_become_plugin_records_and_come_back(empty_url: str) -> None:
    await upgrade(empty_url, BEFORE)
    engine = create_engine(empty_url)
    try:
        sent, received = new_application(connector="fitconnect"), new_application()
        await Repository(engine).accept(sent)
        await Repository(engine).accept(received)
        out_id, in_id, case, destination = uid(), uid(), uid(), uid()
        async with engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == sent.delivery_id)
                .values(
                    state="delivered",
                    remote_reference=f"submission:{out_id}/case:{case}/destination:{destination}",
                )
            )
            common = {"destination_id": destination, "case_id": case}
            await conn.execute(
                legacy.insert(),
                [
                    {"submission_id": out_id, "direction": "out", "application_id": sent.id,
                     "state": "submitted", "events_seen": 3, **common,
                     "created_at": CREATED, "updated_at": UPDATED},
                    {"submission_id": in_id, "direction": "in", "application_id": received.id,
                     "state": "accepted", "events_seen": 0, **common,
                     "created_at": CREATED, "updated_at": UPDATED},
                ],
            )  # fmt: skip

        await upgrade(empty_url, AFTER)

        state = Repository(engine).plugin_state("fitconnect")
        [incoming, outgoing] = await state.find()
        assert (outgoing.key, outgoing.state, outgoing.delivery_id) == (
            f"out:{out_id}",
            "submitted",
            sent.delivery_id,
        )
        assert outgoing.data == {
            "submission_id": out_id,
            "case_id": case,
            "destination_id": destination,
            "events_seen": 3,
        }
        assert (outgoing.tenant_id, outgoing.route_id) == (sent.tenant_id, sent.route_id)
        assert (incoming.key, incoming.state, incoming.delivery_id) == (
            f"in:{in_id}",
            "accepted",
            None,
        )
        assert incoming.application_id == received.id
        assert (outgoing.created_at, outgoing.updated_at) == (CREATED, UPDATED)
        # Tracked already: the sent delivery is not picked up a second time.
        assert await state.untracked_deliveries() == []

        await asyncio.to_thread(command.downgrade, alembic_config(empty_url), BEFORE)

        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(legacy).order_by(legacy.c.direction))).all()
        assert [(r.direction, r.submission_id, r.state, r.events_seen) for r in rows] == [
            ("in", in_id, "accepted", 0),
            ("out", out_id, "submitted", 3),
        ]
        assert rows[1].created_at == CREATED
    finally:
        await engine.dispose()
