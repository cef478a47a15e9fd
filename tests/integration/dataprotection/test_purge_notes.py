"""Retention and the status channel: notes and the bodies of finished portal events go with the
content; an event still being sent keeps its body until it is finished; notes reported after
the purge go once their own retention has passed — on both engines."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, status
from ozgbridge.dataprotection.purge import purge
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import AttemptOutcome, DeliveryState, utcnow
from ozgbridge.errors import PermanentDeliveryError
from ozgbridge.events.sender import PortalSender
from ozgbridge.settings import Settings
from ozgbridge.store.outbox import EventOutbox, EventResult
from ozgbridge.store.outbox_views import EventLog
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import audit_events, portal_events, status_history
from ozgbridge.tenants import Deployment, load_deployment
from tests.factories import new_application
from tests.integration.dataprotection.support import finish, write_retention_config

NOW = utcnow()
DAY = timedelta(days=1)
NOTES = ["Frau Mustermann, Eingang bestätigt", "Bitte Lageplan nachreichen", "Genehmigt"]


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return load_deployment(write_retention_config(tmp_path / "config"))


@pytest.fixture
def repo(engine: AsyncEngine, sealer: Sealer) -> Repository:
    return Repository(engine, sealer=sealer)


def settings() -> Settings:
    return Settings(database_url="sqlite+aiosqlite:///unused.sqlite3")


async def report(
    repo: Repository, application_id: str, note: str, at: datetime, code: str = "in_progress"
) -> None:
    async with repo.engine.begin() as conn:
        await status.record(
            conn,
            application_id=application_id,
            source="key:erkelenz-staff",
            status=code,
            note=note,
            file_reference="63-2026-0815",
            at=at,
            sealer=repo.sealer,
        )


async def send(engine: AsyncEngine, result: EventResult) -> str:
    """The portal hears the next event (or fails to, per ``result``); its id."""
    box = EventOutbox(engine)
    [event] = await box.claim("w", limit=1, lease_seconds=30)
    assert await box.record(event, "w", result)
    return event.id


async def events(engine: AsyncEngine) -> dict[str, tuple[object, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                portal_events.c.id,
                portal_events.c.body.is_not(None).label("has_body"),
                portal_events.c.body_key_id,
                portal_events.c.type,
                portal_events.c.state,
                portal_events.c.occurred_at,
                portal_events.c.attempts,
            ).order_by(portal_events.c.seq)
        )
        return {row.id: tuple(row)[1:] for row in rows}


async def notes(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                status_history.c.note,
                status_history.c.note_key_id,
                status_history.c.status,
                status_history.c.file_reference,
            ).order_by(status_history.c.at)
        )
        return [tuple(row) for row in rows]


async def purged_details(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_events.c.details)
            .where(audit_events.c.action == "retention.purged")
            .order_by(audit_events.c.seq)
        )
        return [json.loads(details) for (details,) in rows]


async def test_notes_and_finished_events_go_with_the_content_a_pending_event_waits(
    repo: Repository, deployment: Deployment, sealer: Sealer
) -> None:
    new = new_application(portal_events=True, submitted_by="portal")
    await repo.accept(new)
    for n, note in enumerate(NOTES):
        await report(repo, new.id, note, NOW - 9 * DAY + n * timedelta(minutes=1))
    sent = await send(repo.engine, EventResult(AttemptOutcome.DELIVERED, status_code=204))
    refused = await send(repo.engine, EventResult(AttemptOutcome.PERMANENT, 410, "HTTP 410"))
    await finish(repo.engine, new.id, DeliveryState.DELIVERED, NOW - 8 * DAY)
    before = await events(repo.engine)
    assert [row[0] for row in before.values()] == [True, True, True]
    assert {row[1] for row in before.values()} == {sealer.key_id}

    report_run = await purge(repo.engine, deployment, settings(), actor="test", now=NOW)

    assert (report_run.purged.applications, report_run.purged.notes) == (1, 3)
    assert report_run.purged.event_bodies == 2
    after = await events(repo.engine)
    [waiting] = [event_id for event_id in after if event_id not in (sent, refused)]
    # finished events lose their bodies; ids, types, states, times and attempts stay
    for event_id in (sent, refused):
        assert after[event_id][:2] == (False, None)
        assert after[event_id][2:] == before[event_id][2:]
    assert after[waiting] == before[waiting]  # still to be sent: kept
    assert await notes(repo.engine) == [(None, None, "in_progress", "63-2026-0815") for _ in NOTES]
    history = await status.history(repo.engine, new.id, sealer)
    assert [entry.note for entry in history] == [None, None, None]
    listed = await EventLog(repo.engine).listing(application_id=new.id)
    assert [view.state for view in listed] == ["pending", "dead", "delivered"]
    assert [view.body_purged for view in listed] == [False, True, True]

    # the refused event cannot be sent again: its body is gone
    assert await EventLog(repo.engine).replay(refused, actor="key:operator") is None

    # the pending one is still sent, with its note; the next run takes its body
    box = EventOutbox(repo.engine)
    [pending] = await box.claim("w", limit=1, lease_seconds=30)
    sender = PortalSender(lambda: [], settings(), sealer=sealer)
    assert json.loads(sender.body(pending))["data"]["note"] == NOTES[2]
    assert await box.record(pending, "w", EventResult(AttemptOutcome.DELIVERED, status_code=204))

    later = await purge(repo.engine, deployment, settings(), actor="test", now=NOW)

    assert (later.purged.applications, later.purged.event_bodies) == (1, 1)
    assert (later.purged.attachments, later.purged.content_bytes, later.purged.notes) == (0, 0, 0)
    assert [row[:2] for row in (await events(repo.engine)).values()] == [(False, None)] * 3
    assert (await purge(repo.engine, deployment, settings(), actor="test", now=NOW)).empty
    first, second, third = await purged_details(repo.engine)
    assert (first["notes"], first["event_bodies"]) == (3, 2)
    assert (second["notes"], second["event_bodies"]) == (0, 1)
    assert (third["applications"], third["event_bodies"]) == (0, 0)
    assert (await audit.verify(repo.engine)).ok
    with pytest.raises(PermanentDeliveryError, match="deleted by retention"):
        sender.body(dataclasses.replace(pending, body=None))


async def test_a_note_reported_after_the_purge_goes_after_its_own_retention(
    repo: Repository, deployment: Deployment, sealer: Sealer
) -> None:
    new = new_application(portal_events=True, submitted_by="portal")
    await repo.accept(new)
    await finish(repo.engine, new.id, DeliveryState.DELIVERED, NOW - 8 * DAY)
    await purge(repo.engine, deployment, settings(), actor="test", now=NOW)
    assert await repo.content_purged_at(new.id) == NOW

    # weeks later the authority closes the case, with a note
    await report(repo, new.id, "Bescheid an Frau Mustermann versandt", NOW, code="completed")
    await send(repo.engine, EventResult(AttemptOutcome.DELIVERED, status_code=204))

    kept = await purge(repo.engine, deployment, settings(), actor="test", now=NOW + 6 * DAY)
    assert kept.empty
    [entry] = await status.history(repo.engine, new.id, sealer)
    assert entry.note == "Bescheid an Frau Mustermann versandt"

    dry = await purge(
        repo.engine, deployment, settings(), actor="test", dry_run=True, now=NOW + 8 * DAY
    )
    assert (dry.purged.applications, dry.purged.notes, dry.purged.event_bodies) == (1, 1, 1)
    assert (dry.purged.attachments, dry.purged.content_bytes) == (0, 0)
    [entry] = await status.history(repo.engine, new.id, sealer)
    assert entry.note is not None

    done = await purge(repo.engine, deployment, settings(), actor="test", now=NOW + 8 * DAY)

    assert (done.purged.applications, done.purged.notes, done.purged.event_bodies) == (1, 1, 1)
    [entry] = await status.history(repo.engine, new.id, sealer)
    assert (entry.note, entry.status, entry.file_reference) == (None, "completed", "63-2026-0815")
    assert await repo.content_purged_at(new.id) == NOW  # the first purge's time stays
