"""The store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import ApplicationStatus, AttemptOutcome, DeliveryState, utcnow
from ozgbridge.store.queue import DeliveryQueue
from ozgbridge.store.records import AttemptResult, IdempotencyRecord
from ozgbridge.store.repository import IdempotencyKeyTaken, Repository
from ozgbridge.store.tables import attempts, audit_events, deliveries
from tests.factories import new_application


@pytest.fixture
def repo(engine: AsyncEngine, sealer: Sealer) -> Repository:
    return Repository(engine, sealer=sealer)


@pytest.fixture
def queue(engine: AsyncEngine) -> DeliveryQueue:
    return DeliveryQueue(engine)


async def test_accepted_application_reads_back_with_its_delivery(repo: Repository) -> None:
    new = new_application()
    await repo.accept(new)

    view = await repo.get_application(new.id)

    assert view is not None
    assert view.status == ApplicationStatus.RECEIVED
    assert (view.tenant_id, view.leika_key, view.ars) == ("erkelenz", new.leika_key, "053700004004")
    assert view.attachment_count == 1
    assert view.received_at.tzinfo is not None
    [delivery] = view.deliveries
    assert (delivery.id, delivery.state, delivery.attempts) == (
        new.delivery_id,
        DeliveryState.PENDING,
        0,
    )
    assert await repo.get_application("01NOTTHERE000000000000000") is None


async def test_a_batch_loads_only_the_small_envelopes_with_their_files(
    repo: Repository, queue: DeliveryQueue, engine: AsyncEngine
) -> None:
    with_file = new_application()  # one small attachment
    without = new_application(attachments=())
    big = new_application(data=b"x" * 5000)
    for new in (with_file, without, big):
        await repo.accept(new)
    claimed = await queue.claim("w1", limit=10, lease_seconds=60)
    statements: list[str] = []

    def seen(*args: object) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        loaded = await repo.load_envelopes(claimed, {}, max_size=4000)
        statements_with_files = len(statements)
        only_without = [c for c in claimed if c.application_id == without.id]
        statements.clear()
        assert set(await repo.load_envelopes(only_without, {}, max_size=4000)) == {
            without.delivery_id
        }
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)

    assert set(loaded) == {with_file.delivery_id, without.delivery_id}  # big is left out
    assert loaded[with_file.delivery_id].attachments[0].content == b"%PDF-1.4 test"
    assert loaded[without.delivery_id].attachments == ()
    # sizes, applications, attachments — and no attachments query where none has any
    assert statements_with_files == 3
    assert not any("attachments.filename" in s for s in statements)


async def test_envelope_carries_contents_byte_equal(repo: Repository, queue: DeliveryQueue) -> None:
    new = new_application(data=bytes(range(256)))
    await repo.accept(new)
    [claimed] = await queue.claim("w1", limit=10, lease_seconds=60)

    envelope = await repo.load_envelope(claimed, tenant_name="Stadt Erkelenz")

    assert envelope.data.content == bytes(range(256))
    assert envelope.attachments[0].content == new.attachments[0].content
    assert (envelope.delivery_id, envelope.attempt) == (new.delivery_id, 1)


async def test_idempotency_answer_is_stored_with_the_application(repo: Repository) -> None:
    record = IdempotencyRecord("portal-test", "key-1", "a" * 64, 202, '{"id": "x"}')
    new = new_application()
    await repo.accept(new, idempotency=record)

    assert await repo.find_idempotent("portal-test", "key-1") == record
    assert await repo.find_idempotent("other-key", "key-1") is None
    with pytest.raises(IdempotencyKeyTaken):
        await repo.accept(new_application(), idempotency=record)
    # the losing request stored nothing
    async with repo.engine.connect() as conn:
        count = len((await conn.execute(select(deliveries.c.id))).all())
    assert count == 1


async def test_idempotency_lookups_arriving_together_share_queries(
    repo: Repository, engine: AsyncEngine
) -> None:
    records = [IdempotencyRecord("portal-test", f"k{n}", "a" * 64, 202, f"{n}") for n in range(3)]
    records.append(IdempotencyRecord("portal-b", "k0", "b" * 64, 202, "b"))
    for record in records:
        await repo.accept(new_application(), idempotency=record)
    wanted = [("portal-test", "k0"), ("portal-test", "k1"), ("other-key", "k0"), ("portal-b", "k0")]
    wanted += [("portal-test", "k2"), ("portal-test", "k1"), ("portal-test", "missing")] * 4
    queries: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM idempotency_keys" in statement:
            queries.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        found = await asyncio.gather(*(repo.find_idempotent(*pair) for pair in wanted))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)

    expected = {(r.api_key_id, r.key): r for r in records}
    assert found == [expected.get(pair) for pair in wanted]
    # The first lookup goes at once, the ones that arrived meanwhile share what follows: at most
    # one query per API key in each (one each would be 16).
    assert 1 <= len(queries) <= 7


async def test_claim_takes_only_due_deliveries_once(repo: Repository, queue: DeliveryQueue) -> None:
    due = new_application()
    later = new_application(first_attempt_delay=3600)
    await repo.accept(due)
    await repo.accept(later)

    first = await queue.claim("w1", limit=10, lease_seconds=60)
    second = await queue.claim("w2", limit=10, lease_seconds=60)

    assert [c.id for c in first] == [due.delivery_id]
    assert first[0].attempt == 1
    assert second == []


async def test_concurrent_claimers_never_share_a_delivery(
    repo: Repository, queue: DeliveryQueue
) -> None:
    for _ in range(40):
        await repo.accept(new_application())

    results = await asyncio.gather(
        *(queue.claim(f"w{i}", limit=7, lease_seconds=60) for i in range(8))
    )

    ids = [c.id for batch in results for c in batch]
    assert len(ids) == 40
    assert len(set(ids)) == 40


async def test_expired_lease_is_claimable_and_the_lost_attempt_recorded(
    repo: Repository, queue: DeliveryQueue
) -> None:
    new = new_application()
    await repo.accept(new)
    [dead_workers] = await queue.claim("crashed", limit=1, lease_seconds=60)
    assert await queue.claim("w2", limit=1, lease_seconds=60) == []
    async with repo.engine.begin() as conn:  # let the lease run out
        past = utcnow() - timedelta(seconds=1)
        await conn.execute(update(deliveries).values(lease_expires_at=past, next_attempt_at=past))

    [reclaimed] = await queue.claim("w2", limit=1, lease_seconds=60)

    assert reclaimed.id == dead_workers.id
    assert reclaimed.attempt == 2
    async with repo.engine.connect() as conn:
        rows = (await conn.execute(select(attempts))).all()
    assert [(r.number, r.outcome, r.worker) for r in rows] == [(1, "retriable", "crashed")]
    assert "lease expired" in rows[0].error


async def test_success_marks_delivered_and_audits(repo: Repository, queue: DeliveryQueue) -> None:
    new = new_application()
    await repo.accept(new)
    [claimed] = await queue.claim("w1", limit=1, lease_seconds=60)

    ours = await queue.record(
        claimed,
        "w1",
        AttemptResult(AttemptOutcome.DELIVERED, utcnow(), status_code=200, remote_reference="R-1"),
    )

    assert ours
    view = await repo.get_application(new.id)
    assert view is not None
    assert view.status == ApplicationStatus.DELIVERED
    assert view.deliveries[0].state == DeliveryState.DELIVERED
    assert view.deliveries[0].remote_reference == "R-1"
    async with repo.engine.connect() as conn:
        actions = (await conn.execute(select(audit_events.c.action))).scalars().all()
    assert actions == [
        "application.received",
        "application.routed",
        "delivery.attempt",
        "delivery.delivered",
    ]
    assert (await audit.verify(repo.engine)).ok


async def test_retriable_failure_reschedules_and_permanent_kills(
    repo: Repository, queue: DeliveryQueue
) -> None:
    new = new_application()
    await repo.accept(new)
    [claimed] = await queue.claim("w1", limit=1, lease_seconds=60)
    retry_at = utcnow() + timedelta(seconds=300)

    await queue.record(
        claimed,
        "w1",
        AttemptResult(
            AttemptOutcome.RETRIABLE, utcnow(), status_code=503, error="HTTP 503", retry_at=retry_at
        ),
    )
    view = await repo.get_application(new.id)
    assert view is not None
    assert view.status == ApplicationStatus.DELIVERING
    assert view.deliveries[0].state == DeliveryState.PENDING
    assert view.deliveries[0].next_attempt_at == retry_at
    assert view.deliveries[0].last_error == "HTTP 503"
    assert await queue.next_due_at() == retry_at

    async with repo.engine.begin() as conn:
        await conn.execute(update(deliveries).values(next_attempt_at=utcnow()))
    [again] = await queue.claim("w1", limit=1, lease_seconds=60)
    await queue.record(
        again, "w1", AttemptResult(AttemptOutcome.PERMANENT, utcnow(), 400, "HTTP 400")
    )
    view = await repo.get_application(new.id)
    assert view is not None
    assert (view.status, view.deliveries[0].state, view.deliveries[0].attempts) == (
        ApplicationStatus.DEAD,
        DeliveryState.DEAD,
        2,
    )
    assert await queue.count_unfinished() == 0


async def test_a_worker_that_lost_its_lease_cannot_undo_the_new_owner(
    repo: Repository, queue: DeliveryQueue
) -> None:
    await repo.accept(new_application())
    [slow] = await queue.claim("slow", limit=1, lease_seconds=60)
    async with repo.engine.begin() as conn:
        past = utcnow() - timedelta(seconds=1)
        await conn.execute(update(deliveries).values(lease_expires_at=past, next_attempt_at=past))
    [fast] = await queue.claim("fast", limit=1, lease_seconds=60)

    late_failure = AttemptResult(AttemptOutcome.PERMANENT, utcnow(), 400, "HTTP 400")
    assert not await queue.record(slow, "slow", late_failure)
    later = utcnow() + timedelta(seconds=60)
    assert await queue.renew([slow.id], "slow", until=later) == []
    assert await queue.renew([fast.id], "fast", until=later) == [fast.id]
    assert await queue.record(fast, "fast", AttemptResult(AttemptOutcome.DELIVERED, utcnow(), 200))

    async with repo.engine.connect() as conn:
        state = (await conn.execute(select(deliveries.c.state))).scalar_one()
        rows = (await conn.execute(select(attempts).order_by(attempts.c.number))).all()
    assert state == "delivered"
    # the slow worker's real outcome replaced the lease-expiry note for attempt 1
    assert [(r.number, r.outcome, r.worker) for r in rows] == [
        (1, "permanent", "slow"),
        (2, "delivered", "fast"),
    ]


async def test_audit_verify_names_the_altered_event(repo: Repository) -> None:
    for _ in range(3):
        await repo.accept(new_application())
    result = await audit.verify(repo.engine)
    assert (result.ok, result.checked) == (True, 6)

    async with repo.engine.begin() as conn:
        await conn.execute(
            update(audit_events).where(audit_events.c.seq == 4).values(actor="key:someone-else")
        )
    broken = await audit.verify(repo.engine)

    assert not broken.ok
    assert broken.first_bad_seq == 4
    assert broken.checked == 3


async def test_audit_chain_stays_one_line_under_concurrent_writers(repo: Repository) -> None:
    await asyncio.gather(*(repo.accept(new_application()) for _ in range(30)))

    result = await audit.verify(repo.engine)

    assert result.ok
    assert result.checked == 60


async def test_audit_refuses_personal_detail_keys(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="personal data"):
        await audit.record(engine, audit.AuditEvent("x", "y", details={"name": "Erika"}))


async def test_a_conflict_in_a_group_commit_fails_only_its_own_request(repo: Repository) -> None:
    taken = IdempotencyRecord("portal-test", "dup", "b" * 64, 202, "{}")
    await repo.accept(new_application(), idempotency=taken)
    batch = [new_application() for _ in range(5)]

    results = await asyncio.gather(
        *(repo.accept(new) for new in batch[:2]),
        repo.accept(new_application(), idempotency=taken),
        *(repo.accept(new) for new in batch[2:]),
        return_exceptions=True,
    )

    assert [type(r).__name__ for r in results] == [
        "NoneType", "NoneType", "IdempotencyKeyTaken", "NoneType", "NoneType", "NoneType"
    ]  # fmt: skip
    for new in batch:
        assert await repo.get_application(new.id) is not None
    assert (await audit.verify(repo.engine)).checked == 2 * 6


async def test_outcomes_recorded_together_each_land_correctly(
    repo: Repository, queue: DeliveryQueue
) -> None:
    apps = [new_application() for _ in range(5)]
    for new in apps:
        await repo.accept(new)
    claimed = {c.application_id: c for c in await queue.claim("w1", limit=10, lease_seconds=60)}
    lost = claimed[apps[4].id]
    async with repo.engine.begin() as conn:  # apps[4]'s lease went to another worker meanwhile
        await conn.execute(
            update(deliveries).where(deliveries.c.id == lost.id).values(lease_owner="w2")
        )
    later = utcnow() + timedelta(seconds=60)
    results = [
        AttemptResult(AttemptOutcome.DELIVERED, utcnow(), 200, remote_reference="A"),
        AttemptResult(AttemptOutcome.DELIVERED, utcnow(), 201, remote_reference="B"),
        AttemptResult(AttemptOutcome.RETRIABLE, utcnow(), 503, "HTTP 503", retry_at=later),
        AttemptResult(AttemptOutcome.PERMANENT, utcnow(), 400, "HTTP 400"),
        AttemptResult(AttemptOutcome.RETRIABLE, utcnow(), 502, "HTTP 502", retry_at=later),
    ]

    owned = await asyncio.gather(
        *(queue.record(claimed[a.id], "w1", r) for a, r in zip(apps, results, strict=True))
    )

    assert owned == [True, True, True, True, False]
    views = [await repo.get_application(a.id) for a in apps]
    assert [(v.status, v.deliveries[0].state) for v in views if v] == [
        (ApplicationStatus.DELIVERED, DeliveryState.DELIVERED),
        (ApplicationStatus.DELIVERED, DeliveryState.DELIVERED),
        (ApplicationStatus.DELIVERING, DeliveryState.PENDING),
        (ApplicationStatus.DEAD, DeliveryState.DEAD),
        (ApplicationStatus.RECEIVED, DeliveryState.DELIVERING),
    ]
    assert [v.deliveries[0].remote_reference for v in views if v][:2] == ["A", "B"]
    assert views[2] is not None
    assert views[2].deliveries[0].next_attempt_at == later
    async with repo.engine.connect() as conn:
        rows = (await conn.execute(select(attempts.c.outcome, attempts.c.status_code))).all()
    assert sorted(rows) == sorted(
        [("delivered", 200), ("delivered", 201), ("retriable", 503), ("permanent", 400),
         ("retriable", 502)]
    )  # fmt: skip
    result = await audit.verify(repo.engine)
    assert result.ok
    assert result.checked == 10 + 5 + 3  # accepted, attempts, delivered/dead
