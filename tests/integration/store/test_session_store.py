"""Revoked sessions and failed sign-ins on both engines: recorded, counted, forgotten in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.ids import new_id
from ozgbridge.store import sessions
from ozgbridge.store.tables import audit_events, ui_revoked_sessions, ui_sign_in_failures

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


SIGNED_OUT = audit.AuditEvent("key:k", "ui.signed_out")
FAILED = audit.AuditEvent("client:a", "ui.sign_in_failed")


async def test_a_revocation_holds_until_the_session_would_expire(engine: AsyncEngine) -> None:
    old, current = new_id(), new_id()
    await sessions.revoke(engine, old, NOW + timedelta(hours=1), now=NOW, event=SIGNED_OUT)
    await sessions.revoke(engine, old, NOW + timedelta(hours=1), now=NOW, event=SIGNED_OUT)

    assert await sessions.is_revoked(engine, old)
    assert not await sessions.is_revoked(engine, current)
    assert await count(engine, ui_revoked_sessions) == 1
    assert await count(engine, audit_events) == 1  # revoking twice is audited once

    # Two hours later the first session has expired anyway: the next revocation drops its row.
    later = NOW + timedelta(hours=2)
    await sessions.revoke(engine, current, later + timedelta(hours=8), now=later, event=SIGNED_OUT)

    assert not await sessions.is_revoked(engine, old)
    assert await sessions.is_revoked(engine, current)
    assert await count(engine, ui_revoked_sessions) == 1


async def test_failures_are_counted_per_subject_within_the_window(engine: AsyncEngine) -> None:
    for minutes in (10, 4, 2, 1):
        at = NOW - timedelta(minutes=minutes)
        await sessions.record_failure(engine, ["client:a", "prefix:p"], at, WINDOW, [FAILED])
    await sessions.record_failure(engine, ["client:b", "prefix:p"], NOW, WINDOW, [FAILED])

    recent = await sessions.recent_failures(
        engine, ["client:a", "prefix:p", "client:c"], NOW - WINDOW
    )

    assert recent["client:a"] == [NOW - timedelta(minutes=m) for m in (4, 2, 1)]
    assert len(recent["prefix:p"]) == 4
    assert recent["client:c"] == []
    # The failure 10 minutes ago left the window and was deleted by a later write.
    assert await count(engine, ui_sign_in_failures) == 8
    assert await count(engine, audit_events) == 5
