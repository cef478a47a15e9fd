"""No form data, attachment, file name, status note or portal event body in the database files,
in plaintext — on each engine.

The control case stores the same submission without keys and finds every marker, so a clean
result means the content is sealed, not that the search looks in the wrong place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.events.model import EventType, NewEvent
from ozgbridge.events.sender import PortalSender
from ozgbridge.ids import new_id
from ozgbridge.settings import Settings
from ozgbridge.store import outbox
from ozgbridge.store.outbox import EventOutbox
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult
from ozgbridge.store.repository import Repository
from tests.factories import new_application
from tests.integration.api.support import Api, StartApi, attachment, auth, body, write_config
from tests.integration.dataprotection.support import (
    MARKERS,
    markers_in,
    raw_database,
    sqlite_files,
)
from tests.sealed import stored


class _PlaintextRepository(Repository):
    """As with OZGBRIDGE_ALLOW_PLAINTEXT=true."""

    def __init__(self, engine: AsyncEngine, **options: Any) -> None:
        super().__init__(engine, **{**options, "sealer": Sealer.plaintext()})


@pytest.fixture
def listening_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The API tests' deployment, with portal-a hearing events about what it submits."""
    monkeypatch.setenv("MARKER_PORTAL_SECRET", "whsec_cG9ydGFsLWV2ZW50cy1zZWNyZXQtZm9yLXRlc3Rz")
    config = write_config(tmp_path / "listening")
    keys = yaml.safe_load((config / "keys.yaml").read_text(encoding="utf-8"))
    for key in keys["keys"]:
        if key["id"] == "portal-a":
            key["events"] = {
                "url": "https://portal.example/events",
                "signing_secret": "${env:MARKER_PORTAL_SECRET}",
            }
    (config / "keys.yaml").write_text(yaml.safe_dump(keys), encoding="utf-8")
    return config


async def submit_markers(api: Api, count: int = 3) -> list[str]:
    """Applications with a marker in each kind of content, a status report with a marked note
    (stored, and carried by the portal event), and a portal event whose body alone is marked."""
    ids = []
    for n in range(count):
        document = body(
            content={"zeugin": MARKERS["form data"], "n": n},
            attachments=[
                attachment(f"{MARKERS['file name']}-{n}.pdf", MARKERS["attachment"].encode() * 50)
            ],
        )
        response = await api.client.post(
            "/v1/applications",
            json=document,
            headers={**auth("portal-a"), "Idempotency-Key": f"marker-{n}"},
        )
        assert response.status == 202, await response.text()
        application_id = (await response.json())["id"]
        ids.append(application_id)
        response = await api.client.post(
            f"/v1/applications/{application_id}/status",
            json={"status": "information_required", "note": f"{MARKERS['status note']} {n}"},
            headers=auth("operator"),
        )
        assert response.status == 202, await response.text()
    # An event's body is sealed on its own (the one above carries the note stored beside it).
    event = NewEvent(
        id=new_id(),
        type=EventType.STATUS,
        application_id=ids[0],
        key_id="portal-a",
        reference="HS-1",
        occurred_at=utcnow(),
        data={"status": "in_progress", "note": MARKERS["event body"], "tenant": "erkelenz"},
    )
    async with api.engine.begin() as conn:
        await outbox.enqueue(conn, [event], notify=False, sealer=api.repository.sealer)
    return ids


async def test_no_content_in_the_database_files(
    database_url: str, start_api: StartApi, listening_config: Path, sealer: Sealer
) -> None:
    api = await start_api(database_url, config_dir=listening_config)
    ids = await submit_markers(api)

    if database_url.startswith("sqlite"):
        # While the process runs, recent writes sit in the write-ahead log.
        assert [p.name for p in sqlite_files(database_url)][-1].endswith("-wal")
    assert markers_in(await raw_database(database_url)) == set()

    content = await stored(api.engine, api.repository.sealer, ids[0])
    assert MARKERS["form data"].encode() in content.data
    assert content.attachments[0][0].startswith(MARKERS["file name"])
    # opened where they are shown (the status history) and where they are sent (the sender)
    shown = await api.client.get(f"/v1/applications/{ids[0]}", headers=auth("portal-a"))
    [entry] = (await shown.json())["statusHistory"]
    assert entry["note"] == f"{MARKERS['status note']} 0"
    sender = PortalSender(lambda: [], Settings(), sealer=sealer)
    claimed = await EventOutbox(api.engine).claim("w", limit=10, lease_seconds=30)
    sent = {e.application_id: json.loads(sender.body(e))["data"]["note"] for e in claimed}
    assert sent == {i: f"{MARKERS['status note']} {n}" for n, i in enumerate(ids)}
    await api.engine.dispose()  # SQLite: checkpoints the log into the main file
    assert markers_in(await raw_database(database_url)) == set()


async def test_control_without_keys_the_markers_are_found(
    database_url: str, start_api: StartApi, listening_config: Path
) -> None:
    api = await start_api(
        database_url, config_dir=listening_config, repository_class=_PlaintextRepository
    )
    await submit_markers(api)

    assert markers_in(await raw_database(database_url)) == set(MARKERS)


ANSWER_MARKER = "Antwort-Qx7K-Nachname-Mustermann"


async def answered_with_marker(engine: AsyncEngine, repo: Repository, queue: DeliveryQueue) -> str:
    new = new_application()
    await repo.accept(new)
    [claimed] = await queue.claim("w1", limit=1, lease_seconds=30)
    result = AttemptResult(
        AttemptOutcome.PERMANENT,
        utcnow(),
        status_code=400,
        error="HTTP 400 from http://fv.example/in",
        response_excerpt=f'{{"error": "{ANSWER_MARKER} unbekannt"}}',
    )
    assert await queue.record(claimed, "w1", result)
    return new.id


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "control"])
async def test_back_end_answers_are_sealed_too(
    database_url: str, engine: AsyncEngine, sealer: Sealer, sealed: bool
) -> None:
    used = sealer if sealed else Sealer.plaintext()
    repo = Repository(engine, sealer=used)
    application_id = await answered_with_marker(engine, repo, DeliveryQueue(engine, sealer=used))

    found = ANSWER_MARKER.encode() in await raw_database(database_url)
    found |= ANSWER_MARKER.encode().hex().encode() in await raw_database(database_url)

    assert found is not sealed
    view = await repo.get_application(application_id)
    assert view is not None
    assert view.deliveries[0].last_response == f'{{"error": "{ANSWER_MARKER} unbekannt"}}'
