"""Upgrading a database whose status notes and portal event bodies were stored in plaintext (before
0013_sealed_notes): they keep working — shown, sent — and `rewrap` seals them; on both engines."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from ozgbridge import status
from ozgbridge.dataprotection.rewrap import pending, rewrap
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.events.sender import PortalSender
from ozgbridge.settings import Settings
from ozgbridge.store.engine import create_engine
from ozgbridge.store.migrate import alembic_config, upgrade
from ozgbridge.store.outbox import EventOutbox
from ozgbridge.store.tables import portal_events, status_history

NOTE = "Frau Müller, bitte den Lageplan nachreichen."
BODY = json.dumps({"type": "application.status", "data": {"note": NOTE}})
APPLICATION = "01JOLDAPPLICATION000000001"

INSERTS = [
    """INSERT INTO applications (id, tenant_id, leika_key, service_name, ars, ags, reference,
        submitted_by, status, data_mime_type, data_schema_uri, data_sha256, data_size, data,
        received_at, updated_at)
       VALUES (:app, 'erkelenz', '99050012104000', 'Gewerbe', '053700004004', '05370004',
        NULL, 'portal', 'delivered', 'application/json', NULL, :digest, 2, :data, :at, :at)""",
    """INSERT INTO status_history (id, application_id, at, source, status, detail, note,
        file_reference)
       VALUES ('01JOLDSTATUSENTRY000000001', :app, :at, 'key:erkelenz', 'information_required',
        '{}', :note, '63-1')""",
    """INSERT INTO portal_events (id, application_id, key_id, type, occurred_at, body, state,
        attempts, next_attempt_at, created_at, updated_at)
       VALUES ('01JOLDPORTALEVENT000000001', :app, 'portal', 'application.status', :at, :body,
        'pending', 0, :at, :at, :at)""",
]


def before_sealed_notes() -> str:
    script = ScriptDirectory.from_config(alembic_config("")).get_revision("0013_sealed_notes")
    assert script is not None
    assert isinstance(script.down_revision, str)
    return script.down_revision


async def test_plaintext_notes_and_event_bodies_keep_working_and_rewrap_seals_them(
    empty_database_url: str, sealer: Sealer
) -> None:
    await upgrade(empty_database_url, before_sealed_notes())
    engine = create_engine(empty_database_url)
    try:
        values = {
            "app": APPLICATION,
            "digest": "0" * 64,
            "data": b"{}",
            "note": NOTE,
            "body": BODY,
            "at": datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None),
        }
        async with engine.begin() as conn:
            for insert in INSERTS:
                await conn.execute(text(insert), values)
        await upgrade(empty_database_url)

        [entry] = await status.history(engine, APPLICATION, sealer)
        assert (entry.note, entry.file_reference) == (NOTE, "63-1")
        sender = PortalSender(lambda: [], Settings(), sealer=sealer)
        [event] = await EventOutbox(engine).claim("w", limit=1, lease_seconds=30)
        assert (event.body_key_id, sender.body(event)) == (None, BODY.encode())

        assert await pending(engine, sealer) == 1
        assert await rewrap(engine, sealer, batch=10, actor="test") == 1
        assert await pending(engine, sealer) == 0

        async with engine.connect() as conn:
            note, note_key = (
                await conn.execute(select(status_history.c.note, status_history.c.note_key_id))
            ).one()
            body, body_key = (
                await conn.execute(select(portal_events.c.body, portal_events.c.body_key_id))
            ).one()
        assert (note_key, body_key) == (sealer.key_id, sealer.key_id)
        assert b"Lageplan" not in note
        assert b"Lageplan" not in body
        [entry] = await status.history(engine, APPLICATION, sealer)
        assert entry.note == NOTE
        resealed = dataclasses.replace(event, body=body, body_key_id=body_key)
        assert sender.body(resealed) == BODY.encode()
    finally:
        await engine.dispose()
