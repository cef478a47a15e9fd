"""Plug-in records (`Repository.plugin_state`): the one way a plug-in keeps state; both engines."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit, status
from ozgbridge.domain import AttemptOutcome, utcnow
from ozgbridge.store.plugin_state import MAX_DATA_BYTES
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import audit_events
from tests.factories import new_application


@pytest.fixture
def repo(engine: AsyncEngine) -> Repository:
    return Repository(engine)


async def delivered(repo: Repository, connector: str, reference: str) -> tuple[str, str]:
    """(application id, delivery id) of an application delivered by ``connector``."""
    new = new_application(connector=connector)
    await repo.accept(new)
    queue = DeliveryQueue(repo.engine)
    [claimed] = await queue.claim("w1", limit=1, lease_seconds=60)
    result = AttemptResult(AttemptOutcome.DELIVERED, utcnow(), remote_reference=reference)
    assert await queue.record(claimed, "w1", result)
    return new.id, new.delivery_id


async def audit_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(audit_events))).scalar())


async def test_put_get_and_replace_keep_the_creation_time(repo: Repository) -> None:
    state = repo.plugin_state("tracker")

    assert await state.get("k") is None
    assert await state.put("k", state="open", data={"n": 1, "ids": ["a"]})
    first = await state.get("k")
    await asyncio.sleep(0.01)
    assert await state.put("k", state="done", data={"n": 2})
    second = await state.get("k")

    assert first is not None
    assert second is not None
    assert (first.state, first.data) == ("open", {"n": 1, "ids": ["a"]})
    assert (second.state, second.data) == ("done", {"n": 2})
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at


async def test_only_if_new_leaves_an_existing_record_alone(repo: Repository) -> None:
    state = repo.plugin_state("tracker")

    assert await state.put("k", state="open", data={"n": 1}, only_if_new=True)
    assert not await state.put("k", state="other", data={"n": 9}, only_if_new=True)

    record = await state.get("k")
    assert record is not None
    assert (record.state, record.data) == ("open", {"n": 1})


async def test_each_plugin_sees_only_its_own_records(repo: Repository) -> None:
    await repo.plugin_state("one").put("k", state="open", data={"of": "one"})
    await repo.plugin_state("two").put("k", state="open", data={"of": "two"})
    await repo.plugin_state("two").put("j", state="closed")

    ones = await repo.plugin_state("one").find(state="open")
    twos = await repo.plugin_state("two").find()

    assert [(r.key, r.data) for r in ones] == [("k", {"of": "one"})]
    assert [r.key for r in twos] == ["j", "k"]
    assert [r.key for r in await repo.plugin_state("two").find(state="open", limit=5)] == ["k"]


async def test_untracked_deliveries_are_those_of_the_plugins_connector_without_a_record(
    repo: Repository,
) -> None:
    application_id, delivery_id = await delivered(repo, "tracker", "ref-1")
    await delivered(repo, "filedrop", "ref-2")  # another kind's: never listed
    state = repo.plugin_state("tracker")

    [untracked] = await state.untracked_deliveries()
    assert (untracked.delivery_id, untracked.application_id) == (delivery_id, application_id)
    assert (untracked.tenant_id, untracked.route_id) == ("erkelenz", "gewerbe")
    assert untracked.remote_reference == "ref-1"

    await state.put(
        "out:ref-1", state="open", application_id=application_id, delivery_id=delivery_id
    )
    [record] = await state.find(state="open")
    assert (record.tenant_id, record.route_id) == ("erkelenz", "gewerbe")
    assert await state.untracked_deliveries() == []


async def test_a_transaction_commits_records_audit_and_status_together_or_not_at_all(
    repo: Repository,
) -> None:
    application_id, _ = await delivered(repo, "tracker", "ref")
    state = repo.plugin_state("tracker")
    events_before = await audit_count(repo.engine)
    event = audit.AuditEvent(actor="system:tracker", action="tracker.decided")

    async def crash_midway() -> None:
        async with state.transaction() as tx:
            await tx.put("k", state="decided", application_id=application_id)
            await tx.audit(event)
            await tx.record_status(
                application_id=application_id, source="tracker", status="rejected"
            )
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        await crash_midway()
    assert await state.get("k") is None
    assert await audit_count(repo.engine) == events_before
    assert await status.history(repo.engine, application_id, repo.sealer) == []

    async with state.transaction() as tx:
        await tx.put("k", state="decided", application_id=application_id)
        await tx.audit(event)
        await tx.record_status(
            application_id=application_id, source="tracker:1", status="accepted", detail={"n": 1}
        )

    assert (await state.get("k")) is not None
    [entry] = await status.history(repo.engine, application_id, repo.sealer)
    # Codes are normalised on the way in: another system's "accepted" is a confirmation here.
    assert (entry.source, entry.status, entry.detail) == ("tracker:1", "confirmed", {"n": 1})
    assert await audit_count(repo.engine) == events_before + 2  # ours and application.status
    assert (await audit.verify(repo.engine)).ok


async def test_limits(repo: Repository) -> None:
    state = repo.plugin_state("tracker")

    with pytest.raises(ValueError, match="key has 1 to 200"):
        await state.put("k" * 201)
    with pytest.raises(ValueError, match="state has 1 to 32"):
        await state.put("k", state="s" * 33)
    with pytest.raises(ValueError, match=f"at most {MAX_DATA_BYTES} bytes"):
        await state.put("k", data={"blob": "x" * MAX_DATA_BYTES})
    with pytest.raises(ValueError, match="not a plug-in name"):
        repo.plugin_state("Not A Name")
    assert await state.find() == []
