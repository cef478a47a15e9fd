"""Re-sealing stored content under the first data key, batch by batch, while the service runs.

Content is the form data, attachments and their file names, back-ends' answers, the notes of
status reports and the bodies of portal events. Notes and event bodies are re-sealed also for
applications whose content retention purged already (a later report's note, an unsent event).

Each batch is one transaction over a few applications in id order: their rows are locked
(PostgreSQL: FOR UPDATE; SQLite: the write lock every transaction takes), opened with whichever
key sealed them, sealed under the first key and written back. A purge waits for the batch and a
batch skips what a purge finished first, so neither undoes the other. Stopping at any point
loses nothing: the next run starts over and finds only what is still under another key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ozgbridge.dataprotection.sealing import (
    Sealer,
    application_data_aad,
    attachment_content_aad,
    attachment_filename_aad,
    attempt_response_aad,
    portal_event_body_aad,
    status_note_aad,
)
from ozgbridge.errors import UnknownDataKeyError
from ozgbridge.store.tables import (
    applications,
    attachments,
    attempts,
    deliveries,
    portal_events,
    status_history,
)


def _not_under(column: Any, key_id: str) -> ColumnElement[bool]:
    return or_(column.is_(None), column != key_id)


def _stale_responses(key_id: str) -> ColumnElement[bool]:
    """Back-end answers stored and not sealed under ``key_id``."""
    return and_(
        attempts.c.response_excerpt.is_not(None), _not_under(attempts.c.response_key_id, key_id)
    )


def _stale_notes(key_id: str) -> ColumnElement[bool]:
    return and_(
        status_history.c.note.is_not(None), _not_under(status_history.c.note_key_id, key_id)
    )


def _stale_bodies(key_id: str) -> ColumnElement[bool]:
    return and_(portal_events.c.body.is_not(None), _not_under(portal_events.c.body_key_id, key_id))


def _stale_content(key_id: str) -> ColumnElement[bool]:
    return applications.c.content_purged_at.is_(None) & or_(
        _not_under(applications.c.data_key_id, key_id),
        exists(
            select(1).where(
                attachments.c.application_id == applications.c.id,
                _not_under(attachments.c.key_id, key_id),
            )
        ),
        exists(
            select(1)
            .select_from(attempts.join(deliveries, deliveries.c.id == attempts.c.delivery_id))
            .where(deliveries.c.application_id == applications.c.id, _stale_responses(key_id))
        ),
    )


def _stale(key_id: str) -> ColumnElement[bool]:
    """Applications with content, notes or event bodies not (all) sealed under ``key_id``."""
    notes = status_history.c.application_id == applications.c.id
    bodies = portal_events.c.application_id == applications.c.id
    return or_(
        _stale_content(key_id),
        exists(select(1).where(notes, _stale_notes(key_id))),
        exists(select(1).where(bodies, _stale_bodies(key_id))),
    )


async def count_stale(engine: AsyncEngine, key_id: str) -> int:
    async with engine.connect() as conn:
        count = await conn.execute(select(func.count()).where(_stale(key_id)))
        return int(count.scalar_one())


@dataclass(frozen=True)
class Batch:
    applications: int
    last_id: str | None  # None: nothing was left after the cursor


async def rewrap_batch(
    engine: AsyncEngine, sealer: Sealer, *, after: str, limit: int, byte_budget: int
) -> Batch:
    """Re-seal up to ``limit`` applications with ids after ``after`` (and about ``byte_budget``
    bytes of content: at least one application, however large)."""
    sealer = sealer.pinned()  # one key for the whole batch, whatever a reload does meanwhile
    key_id = sealer.key_id
    if key_id is None:
        raise ValueError("rewrap needs data keys")
    async with engine.begin() as conn:
        chosen, unpurged = await _choose(
            conn, key_id, after=after, limit=limit, byte_budget=byte_budget
        )
        if not chosen:
            return Batch(0, None)
        # A purged application's emptied content columns are left as they are.
        await _reseal_values(
            conn,
            sealer,
            applications,
            "data",
            "data_key_id",
            where=applications.c.id.in_(unpurged) & _not_under(applications.c.data_key_id, key_id),
            aad=application_data_aad,
            what=lambda application_id: f"the form data of application {application_id}",
        )
        await _reseal_attachments(conn, sealer, unpurged)
        await _reseal_responses(conn, sealer, chosen)
        await _reseal_values(
            conn,
            sealer,
            status_history,
            "note",
            "note_key_id",
            where=status_history.c.application_id.in_(chosen) & _stale_notes(key_id),
            aad=status_note_aad,
            what=lambda entry_id: f"the note of status entry {entry_id}",
        )
        await _reseal_values(
            conn,
            sealer,
            portal_events,
            "body",
            "body_key_id",
            where=portal_events.c.application_id.in_(chosen) & _stale_bodies(key_id),
            aad=portal_event_body_aad,
            what=lambda event_id: f"the body of portal event {event_id}",
        )
    return Batch(len(chosen), chosen[-1])


async def _choose(
    conn: AsyncConnection, key_id: str, *, after: str, limit: int, byte_budget: int
) -> tuple[list[str], list[str]]:
    """The applications of this batch, and those of them whose content is still stored."""
    candidates = (
        await conn.execute(
            select(applications.c.id, applications.c.data_size, applications.c.content_purged_at)
            .where(_stale(key_id), applications.c.id > after)
            .order_by(applications.c.id)
            .limit(limit)
            .with_for_update(of=applications)
        )
    ).all()
    if not candidates:
        return [], []
    file_bytes = dict(
        (
            await conn.execute(
                select(attachments.c.application_id, func.sum(attachments.c.size))
                .where(attachments.c.application_id.in_([c.id for c in candidates]))
                .group_by(attachments.c.application_id)
            )
        )
        .tuples()
        .all()
    )
    chosen: list[str] = []
    unpurged: list[str] = []
    spent = 0
    for candidate in candidates:
        purged = candidate.content_purged_at is not None
        size = 0 if purged else candidate.data_size + int(file_bytes.get(candidate.id) or 0)
        if chosen and spent + size > byte_budget:
            break
        chosen.append(candidate.id)
        if not purged:
            unpurged.append(candidate.id)
        spent += size
    return chosen, unpurged


def _check_known(sealer: Sealer, key_id: str | None, what: str) -> None:
    if not sealer.knows(key_id):
        assert key_id is not None
        raise UnknownDataKeyError(key_id, sealer.unknown_key_message(key_id, what))


async def _reseal_attachments(conn: AsyncConnection, sealer: Sealer, ids: list[str]) -> None:
    rows = (
        await conn.execute(
            select(
                attachments.c.id,
                attachments.c.filename,
                attachments.c.content,
                attachments.c.key_id,
            ).where(
                attachments.c.application_id.in_(ids),
                _not_under(attachments.c.key_id, sealer.key_id or ""),
            )
        )
    ).all()
    updates = []
    for row in rows:
        what = f"attachment {row.id}"
        _check_known(sealer, row.key_id, what)
        name_aad, content_aad = attachment_filename_aad(row.id), attachment_content_aad(row.id)
        filename = sealer.open(row.filename, row.key_id, name_aad, what=f"the file name of {what}")
        content = sealer.open(row.content, row.key_id, content_aad, what=what)
        updates.append(
            {
                "b_id": row.id,
                "b_filename": sealer.seal(filename, name_aad),
                "b_content": sealer.seal(content, content_aad),
            }
        )
    if updates:
        await conn.execute(
            update(attachments)
            .where(attachments.c.id == bindparam("b_id"))
            .values(
                filename=bindparam("b_filename"),
                content=bindparam("b_content"),
                key_id=sealer.key_id,
            ),
            updates,
        )


async def _reseal_responses(conn: AsyncConnection, sealer: Sealer, ids: list[str]) -> None:
    rows = (
        await conn.execute(
            select(
                attempts.c.id,
                attempts.c.delivery_id,
                attempts.c.number,
                attempts.c.response_excerpt,
                attempts.c.response_key_id,
            )
            .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
            .where(deliveries.c.application_id.in_(ids), _stale_responses(sealer.key_id or ""))
        )
    ).all()
    updates = []
    for row in rows:
        what = f"the back-end's answer to attempt {row.number} of delivery {row.delivery_id}"
        _check_known(sealer, row.response_key_id, what)
        aad = attempt_response_aad(row.delivery_id, row.number)
        excerpt = sealer.open(row.response_excerpt, row.response_key_id, aad, what=what)
        updates.append({"b_id": row.id, "b_excerpt": sealer.seal(excerpt, aad)})
    if updates:
        await conn.execute(
            update(attempts)
            .where(attempts.c.id == bindparam("b_id"))
            .values(response_excerpt=bindparam("b_excerpt"), response_key_id=sealer.key_id),
            updates,
        )


async def _reseal_values(
    conn: AsyncConnection,
    sealer: Sealer,
    table: Table,
    column: str,
    key_column: str,
    *,
    where: ColumnElement[bool],
    aad: Callable[[str], bytes],
    what: Callable[[str], str],
) -> None:
    """Re-seal ``table.<column>`` (its key id in ``key_column``) in the rows ``where`` selects;
    the row's ``id`` goes into the associated data."""
    value, key = table.c[column], table.c[key_column]
    rows = (await conn.execute(select(table.c.id, value, key).where(where))).all()
    updates = []
    for row_id, stored, key_id in rows:
        _check_known(sealer, key_id, what(row_id))
        plaintext = sealer.open(stored, key_id, aad(row_id), what=what(row_id))
        updates.append({"b_id": row_id, "b_value": sealer.seal(plaintext, aad(row_id))})
    if updates:
        await conn.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({column: bindparam("b_value"), key.name: sealer.key_id}),
            updates,
        )
