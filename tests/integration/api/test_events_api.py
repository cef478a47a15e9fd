"""GET /v1/events and POST /v1/events/{id}/replay: who sees and replays which portal events."""

from __future__ import annotations

import pytest

from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.events.model import EventType, NewEvent
from ozgbridge.ids import new_id
from ozgbridge.store import outbox
from ozgbridge.store.outbox import EventOutbox, EventResult
from tests.integration.api.status_support import submit
from tests.integration.api.support import Api, auth


async def dead_event(api: Api, portal: str) -> tuple[str, str]:
    """An application of ``portal`` with one portal event that could not be sent."""
    application_id = await submit(api, portal)
    event = NewEvent(
        id=new_id(),
        type=EventType.STATUS,
        application_id=application_id,
        key_id=portal,
        reference="HS-TEST-1",
        occurred_at=utcnow(),
        data={"status": "confirmed", "note": None, "fileReference": None, "tenant": "erkelenz"},
    )
    async with api.engine.begin() as conn:
        await outbox.enqueue(conn, [event], notify=False)
    box = EventOutbox(api.engine)
    [claimed] = await box.claim("w", limit=1, lease_seconds=30)
    assert await box.record(claimed, "w", EventResult(AttemptOutcome.PERMANENT, 404, "HTTP 404"))
    return application_id, event.id


async def listed(api: Api, key: str, query: str = "") -> tuple[int, list[str]]:
    response = await api.client.get(f"/v1/events{query}", headers=auth(key))
    if response.status != 200:
        return response.status, []
    return 200, [item["id"] for item in (await response.json())["items"]]


async def test_who_sees_which_events(api_db: Api) -> None:
    _, mine = await dead_event(api_db, "portal-a")
    _, theirs = await dead_event(api_db, "portal-b")

    assert await listed(api_db, "operator") == (200, [theirs, mine])
    assert await listed(api_db, "operator", "?key=portal-a") == (200, [mine])
    assert await listed(api_db, "operator", "?state=dead") == (200, [theirs, mine])
    assert await listed(api_db, "operator", "?state=delivered") == (200, [])
    assert await listed(api_db, "portal-a") == (200, [mine])
    assert await listed(api_db, "portal-a", "?key=portal-b") == (403, [])
    for key in ("erkelenz-staff", "coordinator"):
        assert await listed(api_db, key) == (403, [])
    assert await listed(api_db, "operator", "?state=lost") == (422, [])
    assert await listed(api_db, "operator", "?limit=501") == (422, [])
    page = await (await api_db.client.get("/v1/events?limit=1", headers=auth("operator"))).json()
    assert [item["id"] for item in page["items"]] == [theirs]
    assert await listed(api_db, "operator", f"?limit=1&before={page['next']}") == (200, [mine])


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("portal-a", 202),  # its own
        ("operator", 202),
        ("portal-b", 404),  # another portal's: as if it did not exist
        ("erkelenz-staff", 403),
        ("coordinator", 403),
    ],
)
async def test_who_may_replay(api_db: Api, key: str, expected: int) -> None:
    _, event_id = await dead_event(api_db, "portal-a")

    answer = await api_db.client.post(f"/v1/events/{event_id}/replay", headers=auth(key))

    assert answer.status == expected
    if expected == 202:
        replayed = await answer.json()
        assert (replayed["id"], replayed["state"], replayed["attempts"]) == (
            event_id,
            "pending",
            1,
        )
        assert api_db.wakeups  # the sender is told
        again = await api_db.client.post(f"/v1/events/{event_id}/replay", headers=auth(key))
        assert again.status == 409
