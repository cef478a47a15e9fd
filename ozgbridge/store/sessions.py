"""Dashboard sessions in the database: revoked sessions and failed sign-ins.

Both live in the database, not in a process, because several API processes answer the same
dashboard: a sign-out seen by one must end the session in all of them, and an attacker spreading
guesses over the processes behind a load balancer must meet one throttle. Rows expire — a
revocation with the session it revokes, a failure with the throttle's window — and are deleted
by the writes that come after.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.ids import new_id
from ozgbridge.store.tables import ui_revoked_sessions, ui_sign_in_failures


async def revoke(
    engine: AsyncEngine,
    session_id: str,
    expires_at: datetime,
    *,
    now: datetime,
    event: audit.AuditEvent,
) -> None:
    """Revoke a session until ``expires_at`` (and audit it); idempotent."""
    async with engine.begin() as conn:
        await conn.execute(
            delete(ui_revoked_sessions).where(ui_revoked_sessions.c.expires_at < now)
        )
        dialect_insert: Any = (
            postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        )
        stmt = (
            dialect_insert(ui_revoked_sessions)
            .values(session_id=session_id, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[ui_revoked_sessions.c.session_id])
        )
        result = await conn.execute(stmt)
        if result.rowcount == 1:  # not when a concurrent sign-out of this session came first
            await audit.append(conn, event)


async def is_revoked(engine: AsyncEngine, session_id: str) -> bool:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(ui_revoked_sessions.c.session_id).where(
                    ui_revoked_sessions.c.session_id == session_id
                )
            )
        ).first()
    return row is not None


async def recent_failures(
    engine: AsyncEngine, subjects: Sequence[str], since: datetime
) -> dict[str, list[datetime]]:
    """The times of failed sign-ins since ``since`` for each subject, oldest first."""
    stmt = (
        select(ui_sign_in_failures.c.subject, ui_sign_in_failures.c.at)
        .where(ui_sign_in_failures.c.subject.in_(list(subjects)), ui_sign_in_failures.c.at > since)
        .order_by(ui_sign_in_failures.c.at)
    )
    found: dict[str, list[datetime]] = defaultdict(list)
    async with engine.connect() as conn:
        for row in await conn.execute(stmt):
            found[row.subject].append(row.at)
    return {subject: found.get(subject, []) for subject in subjects}


async def record_failure(
    engine: AsyncEngine,
    subjects: Sequence[str],
    at: datetime,
    window: timedelta,
    events: Sequence[audit.AuditEvent],
) -> None:
    """Count one failed sign-in against each subject, audit it, and forget expired failures."""
    async with engine.begin() as conn:
        await conn.execute(
            delete(ui_sign_in_failures).where(ui_sign_in_failures.c.at <= at - window)
        )
        await conn.execute(
            insert(ui_sign_in_failures),
            [{"id": new_id(), "subject": subject, "at": at} for subject in subjects],
        )
        await audit.append(conn, *events)
