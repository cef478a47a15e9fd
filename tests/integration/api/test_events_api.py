"""GET /v1/events and POST /v1/events/{id}/replay: who sees and replays which portal events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, utcnow
from ozgbridge.events.model import EventType, NewEvent
from ozgbridge.ids import new_id
from ozgbridge.store import outbox
from ozgbridge.store.outbox import EventOutbox, EventResult
from ozgbridge.store.purge import purge_batch
from tests.integration.api.status_support import delivery_rows, submit
from tests.integration.api.support import Api, auth
from tests.integration.dataprotection.support import finish


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
        await outbox.enqueue(conn, [event], notify=False, sealer=api.repository.sealer)
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


async def test_a_dead_event_whose_body_retention_deleted_is_listed_but_not_replayed(
    api_db: Api,
) -> None:
    application_id, event_id = await dead_event(api_db, "portal-a")
    [delivery] = await delivery_rows(api_db.engine, application_id)
    await finish(api_db.engine, application_id, DeliveryState.DELIVERED, utcnow() - timedelta(1))
    purged = await purge_batch(
        api_db.engine,
        ApplicationStatus.DELIVERED,
        utcnow(),
        [(delivery.tenant_id, delivery.route_id)],
        limit=10,
        now=utcnow(),
    )
    assert (purged.applications, purged.event_bodies) == (1, 1)

    answer = await api_db.client.post(f"/v1/events/{event_id}/replay", headers=auth("operator"))

    assert answer.status == 409
    assert "retention deleted this event's body" in (await answer.json())["detail"]
    assert await listed(api_db, "portal-a", "?state=dead") == (200, [event_id])
