"""The running service seals what the status channel stores — the note of a status report and the
bodies of the portal's events — and opens them only to show the history and to send the events;
on both engines."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ozgbridge.dataprotection import keys
from ozgbridge.store.engine import create_engine
from ozgbridge.store.tables import portal_events, status_history
from tests.integration.dataprotection.support import raw_database
from tests.integration.events.portal import PortalReceiver
from tests.integration.events.support import Backend, running, write_config

NOTE = "Qx7K-Nachricht an Frau Erika Mustermann: Lageplan fehlt"


def in_raw(raw: bytes, text: str) -> bool:
    """``text`` in raw database bytes: as UTF-8, UTF-16 or hex (PostgreSQL's bytea dump)."""
    encoded = text.encode()
    return any(form in raw for form in (encoded, text.encode("utf-16-le"), encoded.hex().encode()))


async def test_notes_and_event_bodies_are_sealed_and_opened_only_to_show_and_send(
    database_url: str,
    tmp_path: Path,
    portal: PortalReceiver,
    backend: Backend,
    data_key_file: Path,
) -> None:
    config = write_config(tmp_path, backend_url=backend.url, portal_url=portal.url)

    async with running(config, database_url, tmp_path / "var") as bridge:
        application_id = await bridge.submit()
        await bridge.until(application_id, lambda v: v["status"] == "delivered")
        await bridge.report(
            application_id, "erkelenz-staff", status="information_required", note=NOTE
        )
        await portal.until(
            lambda: any(e["data"].get("note") == NOTE for e in portal.of(application_id))
        )
        view = await bridge.until(application_id, lambda v: bool(v["statusHistory"]))
        raw = await raw_database(database_url)

    assert not in_raw(raw, NOTE)
    assert [entry["note"] for entry in view["statusHistory"]] == [NOTE]  # shown, opened
    sealing_key = keys.load(data_key_file).primary.id
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            note_keys = (await conn.execute(select(status_history.c.note_key_id))).scalars()
            bodies = (
                await conn.execute(select(portal_events.c.body, portal_events.c.body_key_id))
            ).all()
    finally:
        await engine.dispose()
    assert list(note_keys) == [sealing_key]
    assert len(bodies) == 2  # application.delivered, application.status
    assert {key_id for _, key_id in bodies} == {sealing_key}
    assert all(b"applicationId" not in body for body, _ in bodies)
