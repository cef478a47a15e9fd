"""`data-keys rewrap`: everything re-sealed under the first key, online, resumable; both engines."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import status
from ozgbridge.dataprotection import keys
from ozgbridge.dataprotection.rewrap import pending, rewrap
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, utcnow
from ozgbridge.errors import UnknownDataKeyError
from ozgbridge.events.sender import PortalSender
from ozgbridge.settings import Settings
from ozgbridge.store import rewrap as store_rewrap
from ozgbridge.store.outbox import EventOutbox
from ozgbridge.store.purge import purge_batch
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult
from ozgbridge.store.repository import Repository
from ozgbridge.store.sealed_values import sealed_values
from ozgbridge.store.tables import (
    applications,
    attachments,
    attempts,
    audit_events,
    portal_events,
    status_history,
)
from tests.factories import new_application
from tests.integration.dataprotection.support import finish
from tests.sealed import excerpt, stored


def key_file(path: Path, *ring: keys.DataKey) -> Sealer:
    document = {"keys": [keys.entry(k) for k in ring]}
    path.write_text(yaml.safe_dump(document))
    return Sealer(keys.load(path))


@pytest.fixture
def ring() -> dict[str, keys.DataKey]:
    return {name: keys.new_key(name) for name in ("old", "new", "lost")}


async def key_ids(engine: AsyncEngine) -> tuple[set[str | None], set[str | None]]:
    async with engine.connect() as conn:
        apps = set((await conn.execute(select(applications.c.data_key_id))).scalars())
        files = set((await conn.execute(select(attachments.c.key_id))).scalars())
    return apps, files


async def accept(engine: AsyncEngine, sealer: Sealer, n: int = 1, **fields: object) -> list[str]:
    repo = Repository(engine, sealer=sealer)
    ids = []
    for i in range(n):
        new = new_application(**{"data": json.dumps({"n": i}).encode(), **fields})
        await repo.accept(new)
        ids.append(new.id)
    return ids


async def test_old_keys_and_plaintext_are_resealed_under_the_first_key(
    engine: AsyncEngine, ring: dict[str, keys.DataKey], tmp_path: Path
) -> None:
    old = key_file(tmp_path / "old.yaml", ring["old"])
    sealed_old = await accept(engine, old, 3)
    plain = await accept(engine, Sealer.plaintext(), 2)  # stored under ALLOW_PLAINTEXT
    purged = await accept(engine, old)
    repo = Repository(engine, sealer=old)
    await finish(engine, purged[0], DeliveryState.DELIVERED, utcnow() - timedelta(days=9))

    await purge_batch(
        engine,
        ApplicationStatus.DELIVERED,
        utcnow(),
        [("erkelenz", "gewerbe")],
        limit=10,
        now=utcnow(),
    )
    both = key_file(tmp_path / "both.yaml", ring["new"], ring["old"])
    assert await pending(engine, both) == 5
    progress: list[int] = []

    done = await rewrap(engine, both, batch=2, actor="test", on_batch=progress.append)

    assert done == 5
    assert progress == [2, 2, 1]
    assert await pending(engine, both) == 0
    assert await key_ids(engine) == ({"new", None}, {"new", None})
    only_new = key_file(tmp_path / "new.yaml", ring["new"])
    for n, application_id in enumerate([*sealed_old, *plain]):
        content = await stored(engine, only_new, application_id)
        assert content.data_key_id == "new"
        assert json.loads(content.data) == {"n": n % 3 if n < 3 else n - 3}
        assert content.attachments == [("nachweis.pdf", b"%PDF-1.4 test")]
    assert (await repo.content_purged_at(purged[0])) is not None
    async with engine.connect() as conn:
        details = (
            await conn.execute(
                select(audit_events.c.details).where(audit_events.c.action == "data_keys.rewrapped")
            )
        ).scalar_one()
    assert json.loads(details) == {"applications": 5, "key_id": "new"}


async def test_unknown_key_stops_with_its_name_and_a_rerun_resumes(
    engine: AsyncEngine, ring: dict[str, keys.DataKey], tmp_path: Path
) -> None:
    first = await accept(engine, key_file(tmp_path / "old.yaml", ring["old"]), 2)
    await accept(engine, key_file(tmp_path / "lost.yaml", ring["lost"]))
    last = await accept(engine, key_file(tmp_path / "old2.yaml", ring["old"]), 2)
    without_lost = key_file(tmp_path / "ring.yaml", ring["new"], ring["old"])

    with pytest.raises(UnknownDataKeyError) as raised:
        await rewrap(engine, without_lost, batch=1, actor="test")

    assert raised.value.key_id == "lost"
    assert "sealed under data key 'lost'" in str(raised.value)
    assert str(tmp_path / "ring.yaml") in str(raised.value)
    # the batches before it are done; nothing after it was touched
    assert {(await stored(engine, without_lost, i)).data_key_id for i in first} == {"new"}
    assert {(await stored(engine, without_lost, i)).data_key_id for i in last} == {"old"}

    complete = key_file(tmp_path / "all.yaml", ring["new"], ring["old"], ring["lost"])
    assert await pending(engine, complete) == 3
    assert await rewrap(engine, complete, batch=1, actor="test") == 3
    assert await key_ids(engine) == ({"new"}, {"new"})


async def test_rewrap_runs_while_applications_arrive(
    engine: AsyncEngine, ring: dict[str, keys.DataKey], tmp_path: Path
) -> None:
    await accept(engine, key_file(tmp_path / "old.yaml", ring["old"]), 20)
    both = key_file(tmp_path / "both.yaml", ring["new"], ring["old"])

    rewrapped, arrived = await asyncio.gather(
        rewrap(engine, both, batch=3, actor="test"), accept(engine, both, 10)
    )

    assert rewrapped == 20  # what arrived meanwhile was sealed under the new key already
    assert await pending(engine, both) == 0
    assert await key_ids(engine) == ({"new"}, {"new"})
    assert len(arrived) == 10


async def test_a_batch_stays_within_its_byte_budget(
    engine: AsyncEngine, ring: dict[str, keys.DataKey], tmp_path: Path
) -> None:
    big = b"x" * 10_000
    await accept(engine, key_file(tmp_path / "old.yaml", ring["old"]), 3, data=big)
    both = key_file(tmp_path / "both.yaml", ring["new"], ring["old"])

    batch = await store_rewrap.rewrap_batch(engine, both, after="", limit=10, byte_budget=15_000)

    assert batch.applications == 1  # a second would exceed the budget; one always goes
    assert await pending(engine, both) == 2


def test_entry_is_base64_of_32_bytes(ring: dict[str, keys.DataKey]) -> None:
    assert len(base64.b64decode(keys.entry(ring["new"])["key"])) == 32


async def test_back_end_answers_are_resealed(
    engine: AsyncEngine, ring: dict[str, keys.DataKey], tmp_path: Path
) -> None:
    old = key_file(tmp_path / "old.yaml", ring["old"])
    [application_id] = await accept(engine, old)
    plain_queue = DeliveryQueue(engine)  # an answer stored before this version: plaintext
    [claimed] = await plain_queue.claim("w", limit=1, lease_seconds=30)
    result = AttemptResult(
        AttemptOutcome.RETRIABLE,
        utcnow(),
        503,
        "HTTP 503",
        retry_at=utcnow(),
        response_excerpt="Müller: Datenbank voll",
    )
    await plain_queue.record(claimed, "w", result)
    both = key_file(tmp_path / "both.yaml", ring["new"], ring["old"])
    assert (await sealed_values(engine)).by_key[None]["answers"] == 1

    assert await rewrap(engine, both, batch=10, actor="test") == 1

    assert (await sealed_values(engine)).by_key["new"]["answers"] == 1

    async with engine.connect() as conn:
        [row] = (await conn.execute(select(attempts))).all()
    assert row.response_key_id == "new"
    assert excerpt(key_file(tmp_path / "new.yaml", ring["new"]), row) == "Müller: Datenbank voll"
    view = await Repository(engine, sealer=both).get_application(application_id)
    assert view is not None
    assert view.deliveries[0].last_response == "Müller: Datenbank voll"


async def noted(engine: AsyncEngine, sealer: Sealer, note: str) -> str:
    """An application whose portal listens, with a status report carrying ``note`` (stored and
    in the portal event), both sealed with ``sealer``."""
    [application_id] = await accept(engine, sealer, portal_events=True, submitted_by="portal")
    async with engine.begin() as conn:
        await status.record(
            conn,
            application_id=application_id,
            source="key:erkelenz-staff",
            status="in_progress",
            note=note,
            sealer=sealer,
        )
    return application_id


async def test_notes_and_event_bodies_are_resealed_also_after_a_purge(
    engine: AsyncEngine, ring: dict[str, keys.DataKey], tmp_path: Path
) -> None:
    old = key_file(tmp_path / "old.yaml", ring["old"])
    sealed_old = await noted(engine, old, "Frau Erika: Eingang bestätigt")
    plain = await noted(engine, Sealer.plaintext(), "Herr Max: in Bearbeitung")
    # purged content, but a note reported later and its event (not sent yet) are still stored
    purged = await accept(engine, old, portal_events=True, submitted_by="portal")
    await finish(engine, purged[0], DeliveryState.DELIVERED, utcnow() - timedelta(days=9))
    await purge_batch(
        engine,
        ApplicationStatus.DELIVERED,
        utcnow(),
        [("erkelenz", "gewerbe")],
        limit=10,
        now=utcnow(),
    )
    async with engine.begin() as conn:
        await status.record(
            conn,
            application_id=purged[0],
            source="key:erkelenz-staff",
            status="completed",
            note="Bescheid an Frau Erika",
            sealer=old,
        )
    both = key_file(tmp_path / "both.yaml", ring["new"], ring["old"])
    assert await pending(engine, both) == 3
    before = (await sealed_values(engine)).by_key
    assert before["old"]["notes"] == 2  # the purged application's later note counts
    assert before["old"]["form data"] == 1  # the purged application's form does not
    assert before[None]["form data"] == before[None]["notes"] == 1  # plaintext

    assert await rewrap(engine, both, batch=2, actor="test") == 3

    assert await pending(engine, both) == 0
    after = (await sealed_values(engine)).by_key
    assert set(after) == {"new"}
    assert after["new"]["notes"] == 3
    assert after["new"]["events"] == before["old"]["events"] + before[None]["events"]
    async with engine.connect() as conn:
        note_keys = set((await conn.execute(select(status_history.c.note_key_id))).scalars())
        body_keys = set((await conn.execute(select(portal_events.c.body_key_id))).scalars())
        purged_data = (
            await conn.execute(
                select(applications.c.data, applications.c.data_key_id).where(
                    applications.c.id == purged[0]
                )
            )
        ).one()
    assert (note_keys, body_keys) == ({"new"}, {"new"})
    assert tuple(purged_data) == (b"", None)  # emptied content stays empty
    only_new = key_file(tmp_path / "new.yaml", ring["new"])
    shown = {
        application_id: [e.note for e in await status.history(engine, application_id, only_new)]
        for application_id in (sealed_old, plain, purged[0])
    }
    assert shown == {
        sealed_old: ["Frau Erika: Eingang bestätigt"],
        plain: ["Herr Max: in Bearbeitung"],
        purged[0]: ["Bescheid an Frau Erika"],
    }
    sender = PortalSender(lambda: [], Settings(), sealer=only_new)
    claimed = await EventOutbox(engine).claim("w", limit=10, lease_seconds=30)
    sent = {e.application_id: json.loads(sender.body(e))["data"]["note"] for e in claimed}
    assert sent == {k: v[0] for k, v in shown.items()}
