"""Which sent submissions the FIT-Connect plug-in follows up: its records in the store."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.fitconnect.connector import remote_reference
from connectors.fitconnect.tracking import OPEN, UNTRACKABLE, discover, sent_key
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult
from ozgbridge.store.repository import Repository
from tests.factories import new_application


@pytest.fixture
def repo(engine: AsyncEngine) -> Repository:
    return Repository(engine)


async def deliver(repo: Repository, reference: str, connector: str = "fitconnect") -> str:
    new = new_application(connector=connector)
    await repo.accept(new)
    queue = DeliveryQueue(repo.engine)
    [claimed] = await queue.claim("w", limit=1, lease_seconds=60)
    result = AttemptResult(AttemptOutcome.DELIVERED, utcnow(), remote_reference=reference)
    assert await queue.record(claimed, "w", result)
    return new.delivery_id


async def test_each_sent_submission_is_tracked_once(repo: Repository) -> None:
    submission, case, destination = (str(uuid.uuid4()) for _ in range(3))
    delivery_id = await deliver(repo, remote_reference(submission, case, destination))
    await deliver(repo, "R-1", connector="http")  # another kind's delivery: not ours

    assert await discover(repo) == 1
    assert await discover(repo) == 0

    state = repo.plugin_state("fitconnect")
    [record] = await state.find(state=OPEN)
    assert (record.key, record.delivery_id) == (sent_key(submission), delivery_id)
    assert record.data == {
        "submission_id": submission,
        "case_id": case,
        "destination_id": destination,
        "events_seen": 0,
    }
    assert await state.untracked_deliveries() == []


async def test_a_delivery_naming_no_submission_is_set_aside_not_listed_forever(
    repo: Repository,
) -> None:
    delivery_id = await deliver(repo, "not a fitconnect reference")

    assert await discover(repo) == 0

    state = repo.plugin_state("fitconnect")
    [record] = await state.find(state=UNTRACKABLE)
    assert record.delivery_id == delivery_id
    assert await state.untracked_deliveries() == []


async def test_a_record_from_before_delivery_ids_gets_its_delivery_and_keeps_its_progress(
    repo: Repository,
) -> None:
    submission, case, destination = (str(uuid.uuid4()) for _ in range(3))
    delivery_id = await deliver(repo, remote_reference(submission, case, destination))
    state = repo.plugin_state("fitconnect")
    progress = {
        "submission_id": submission,
        "case_id": case,
        "destination_id": destination,
        "events_seen": 4,
    }
    await state.put(sent_key(submission), state=OPEN, data=progress)

    assert await discover(repo) == 0

    record = await state.get(sent_key(submission))
    assert record is not None
    assert (record.delivery_id, record.data, record.state) == (delivery_id, progress, OPEN)
    assert await state.untracked_deliveries() == []
