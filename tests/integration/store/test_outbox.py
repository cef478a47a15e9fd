"""The portal events outbox on both engines: one event per application at a time, leases that
run out, concurrent claimers, dead and replay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.dataprotection.sealing import Sealer, portal_event_body_aad
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.events.model import EventType, NewEvent
from ozgbridge.ids import new_id
from ozgbridge.store import outbox
from ozgbridge.store.outbox import EventOutbox, EventResult
from ozgbridge.store.outbox_views import EventLog
from ozgbridge.store.repository import Repository
from tests.factories import new_application


async def applications(engine: AsyncEngine, count: int) -> list[str]:
    repository = Repository(engine)
    ids = []
    for _ in range(count):
        new = new_application(portal_events=True)
        await repository.accept(new)
        ids.append(new.id)
    return ids


async def enqueue(
    engine: AsyncEngine, application_id: str, *statuses: str, sealer: Sealer | None = None
) -> list[str]:
    events = [
        NewEvent(
            id=new_id(),
            type=EventType.STATUS,
            application_id=application_id,
            key_id="portal-test",
            reference="HS-1",
            occurred_at=utcnow(),
            data={"status": status, "note": None, "fileReference": None, "tenant": "erkelenz"},
        )
        for status in statuses
    ]
    async with engine.begin() as conn:
        await outbox.enqueue(conn, events, notify=False, sealer=sealer or Sealer.plaintext())
    return [e.id for e in events]


DELIVERED = EventResult(AttemptOutcome.DELIVERED, status_code=204)


async def test_one_event_per_application_at_a_time_in_order(
    engine: AsyncEngine, sealer: Sealer
) -> None:
    a, b = await applications(engine, 2)
    a_events = await enqueue(engine, a, "confirmed", "in_progress", "completed", sealer=sealer)
    b_events = await enqueue(engine, b, "confirmed", "completed")
    box = EventOutbox(engine)

    first = await box.claim("w1", limit=10, lease_seconds=30)
    assert [e.id for e in first] == [a_events[0], b_events[0]]
    assert await box.claim("w2", limit=10, lease_seconds=30) == []  # the rest wait their turn

    assert await box.record(first[0], "w1", DELIVERED)
    second = await box.claim("w2", limit=10, lease_seconds=30)
    assert [e.id for e in second] == [a_events[1]]
    assert second[0].attempt == 1
    # claimed as stored, sealed: only the sender opens it
    event = second[0]
    assert event.body is not None
    assert event.body_key_id == sealer.key_id
    assert b"in_progress" not in event.body
    opened = sealer.open(event.body, event.body_key_id, portal_event_body_aad(event.id), what="t")
    assert b'"status":"in_progress"' in opened


async def test_a_retry_holds_back_the_later_events_and_a_dead_one_lets_them_go(
    engine: AsyncEngine,
) -> None:
    [a] = await applications(engine, 1)
    first_id, second_id = await enqueue(engine, a, "confirmed", "completed")
    box = EventOutbox(engine)
    [first] = await box.claim("w1", limit=10, lease_seconds=30)

    retry = EventResult(AttemptOutcome.RETRIABLE, 503, "HTTP 503", retry_at=utcnow())
    assert await box.record(first, "w1", retry)
    [again] = await box.claim("w1", limit=10, lease_seconds=30)
    assert (again.id, again.attempt) == (first_id, 2)

    dead = EventResult(AttemptOutcome.PERMANENT, 410, "HTTP 410")
    assert await box.record(again, "w1", dead)
    [later] = await box.claim("w1", limit=10, lease_seconds=30)
    assert later.id == second_id
    [view] = await EventLog(engine).listing(state="dead")
    assert (view.id, view.attempts, view.last_status_code, view.last_error) == (
        first_id,
        2,
        410,
        "HTTP 410",
    )

    replayed = await EventLog(engine).replay(first_id, actor="key:operator")
    assert replayed is not None
    assert (replayed.state, replayed.next_attempt_at is not None) == ("pending", True)
    assert (
        await EventLog(engine).replay(first_id, actor="key:operator") is None
    )  # not dead any more


async def test_a_dead_workers_event_comes_back_when_its_lease_runs_out(
    engine: AsyncEngine,
) -> None:
    [a] = await applications(engine, 1)
    [event_id] = await enqueue(engine, a, "confirmed")
    box = EventOutbox(engine)
    [lost] = await box.claim("killed", limit=1, lease_seconds=0.2)
    assert await box.claim("w2", limit=1, lease_seconds=30) == []

    await asyncio.sleep(0.3)
    [back] = await box.claim("w2", limit=1, lease_seconds=30)

    assert (back.id, back.attempt) == (event_id, 2)
    # the dead worker's late failure changes nothing; a late success still counts
    late_failure = EventResult(AttemptOutcome.RETRIABLE, 503, "HTTP 503", retry_at=utcnow())
    assert not await box.record(lost, "killed", late_failure)
    later = utcnow() + timedelta(seconds=30)
    assert await box.renew([back.seq], "w2", until=later) == [back.seq]
    assert await box.renew([lost.seq], "killed", until=later) == []
    assert await box.record(back, "w2", DELIVERED)
    [view] = await EventLog(engine).listing(application_id=a)
    assert (view.state, view.attempts) == ("delivered", 2)


async def test_concurrent_claimers_never_share_an_event(engine: AsyncEngine) -> None:
    ids = await applications(engine, 12)
    for application_id in ids:
        await enqueue(engine, application_id, "confirmed")
    boxes = [EventOutbox(engine) for _ in range(4)]

    claims = await asyncio.gather(
        *(box.claim(f"w{n}", limit=5, lease_seconds=30) for n, box in enumerate(boxes))
    )

    claimed = [event.id for claim in claims for event in claim]
    assert len(claimed) == len(set(claimed)) == 12
