"""The worker against a real database (both engines) with a scripted in-memory back-end."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge import audit
from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import ApplicationStatus, DeliveryState, utcnow
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError
from ozgbridge.store import queue as queue_module
from ozgbridge.store.repository import Repository
from ozgbridge.store.tables import audit_events
from ozgbridge.testing import Hang, ScriptedConnector
from tests.factories import new_application
from tests.integration.worker.support import MakeWorker, attempt_rows, settled


async def test_delivers_once_and_audits(
    engine: AsyncEngine, start_worker: MakeWorker, sealer: Sealer
) -> None:
    repo = Repository(engine, sealer=sealer)  # the worker opens what the API sealed
    backend = ScriptedConnector()
    new = new_application()
    await repo.accept(new)
    await start_worker(backend)

    view = await settled(repo, new.id)

    assert view.status == ApplicationStatus.DELIVERED
    assert view.deliveries[0].remote_reference == f"mem-{new.delivery_id}"
    assert [e.attempt for e in backend.received] == [1]
    assert backend.received[0].data.content == new.data
    assert (await audit.verify(engine)).ok


async def test_three_failures_then_success_is_attempt_four(
    engine: AsyncEngine, start_worker: MakeWorker
) -> None:
    repo = Repository(engine)
    flaky = [RetriableDeliveryError("HTTP 503 from back-end", status_code=503)] * 3
    backend = ScriptedConnector(flaky)
    new = new_application()
    await repo.accept(new)
    await start_worker(backend)

    view = await settled(repo, new.id)

    assert view.status == ApplicationStatus.DELIVERED
    assert view.deliveries[0].attempts == 4
    assert [e.attempt for e in backend.received] == [1, 2, 3, 4]
    assert {e.delivery_id for e in backend.received} == {new.delivery_id}
    rows = await attempt_rows(engine)
    assert [(r.number, r.outcome, r.status_code) for r in rows] == [
        (1, "retriable", 503),
        (2, "retriable", 503),
        (3, "retriable", 503),
        (4, "delivered", 200),
    ]


async def test_permanent_error_is_dead_at_once(
    engine: AsyncEngine, start_worker: MakeWorker
) -> None:
    repo = Repository(engine)
    backend = ScriptedConnector([PermanentDeliveryError("HTTP 400 from back-end", status_code=400)])
    new = new_application()
    await repo.accept(new)
    await start_worker(backend)

    view = await settled(repo, new.id)

    assert view.status == ApplicationStatus.DEAD
    assert view.deliveries[0].attempts == 1
    assert view.deliveries[0].last_error == "HTTP 400 from back-end"
    assert len(backend.received) == 1


async def test_exhausted_ladder_is_dead(engine: AsyncEngine, start_worker: MakeWorker) -> None:
    repo = Repository(engine)
    backend = ScriptedConnector([RetriableDeliveryError("connection refused")] * 5)
    new = new_application()
    await repo.accept(new)
    await start_worker(backend, retry_schedule=[0, 0.05, 0.05])

    view = await settled(repo, new.id)

    assert view.status == ApplicationStatus.DEAD
    assert view.deliveries[0].attempts == 3
    assert view.deliveries[0].last_error == "connection refused (gave up after 3 attempts)"
    async with engine.connect() as conn:
        actions = (await conn.execute(select(audit_events.c.action))).scalars().all()
    assert actions.count("delivery.attempt") == 3
    assert actions[-1] == "delivery.dead"


async def test_retry_after_is_honoured(engine: AsyncEngine, start_worker: MakeWorker) -> None:
    repo = Repository(engine)
    backend = ScriptedConnector(
        [RetriableDeliveryError("HTTP 429", status_code=429, retry_after=600)]
    )
    new = new_application()
    await repo.accept(new)
    await start_worker(backend)
    await backend.wait_for(received=1)

    async with asyncio.timeout(5):
        while not await attempt_rows(engine):
            await asyncio.sleep(0.02)
    view = await repo.get_application(new.id)

    assert view is not None
    next_at = view.deliveries[0].next_attempt_at
    assert next_at is not None
    assert next_at - utcnow() > timedelta(seconds=590)


async def test_hanging_back_end_times_out_and_is_retried(
    engine: AsyncEngine, start_worker: MakeWorker
) -> None:
    repo = Repository(engine)
    backend = ScriptedConnector([Hang(30)], timeout=0.2)
    new = new_application()
    await repo.accept(new)
    await start_worker(backend)

    view = await settled(repo, new.id)

    assert (view.status, view.deliveries[0].attempts) == (ApplicationStatus.DELIVERED, 2)
    first = (await attempt_rows(engine))[0]
    assert (first.outcome, first.error) == ("retriable", "no answer from the back-end within 0.2 s")


async def test_stop_lets_short_attempts_finish(
    engine: AsyncEngine, start_worker: MakeWorker
) -> None:
    repo = Repository(engine)
    backend = ScriptedConnector([Hang(0.3)])
    new = new_application()
    await repo.accept(new)
    worker = await start_worker(backend, shutdown_grace=5)
    await backend.wait_for(received=1)

    worker.stop()
    async with asyncio.timeout(5):
        while worker.in_flight:
            await asyncio.sleep(0.02)

    view = await repo.get_application(new.id)
    assert view is not None
    assert view.status == ApplicationStatus.DELIVERED


async def test_stop_hands_back_long_attempts(engine: AsyncEngine, start_worker: MakeWorker) -> None:
    repo = Repository(engine)
    backend = ScriptedConnector([Hang(30)], timeout=60)
    new = new_application()
    await repo.accept(new)
    worker = await start_worker(backend, shutdown_grace=0.2, lease_seconds=120)
    await backend.wait_for(received=1)

    worker.stop()
    async with asyncio.timeout(5):
        while worker.in_flight:
            await asyncio.sleep(0.02)

    view = await repo.get_application(new.id)
    assert view is not None
    assert view.deliveries[0].state == DeliveryState.PENDING
    assert view.deliveries[0].next_attempt_at is not None
    assert view.deliveries[0].next_attempt_at <= utcnow()
    [row] = await attempt_rows(engine)
    assert row.error == "interrupted: the worker shut down during the attempt"


async def test_lease_is_renewed_while_a_slow_attempt_runs(
    engine: AsyncEngine, start_worker: MakeWorker
) -> None:
    repo = Repository(engine)
    # The attempt outlasts the lease more than twice; the lease is long enough that a renewal
    # delayed by a loaded CI machine (renewals run every lease/3) does not lose it.
    slow = ScriptedConnector([Hang(3.5)], timeout=10)
    other = ScriptedConnector()
    new = new_application()
    await repo.accept(new)
    await start_worker(slow, worker_id="slow", lease_seconds=1.5, delivery_timeout=0.3)
    await slow.wait_for(received=1)
    await start_worker(other, worker_id="other", lease_seconds=1.5, delivery_timeout=0.3)

    view = await settled(repo, new.id)

    assert view.status == ApplicationStatus.DELIVERED
    assert other.received == []  # the lease (1.5 s) was renewed through the 3.5 s attempt
    assert [r.worker for r in await attempt_rows(engine)] == ["slow"]


async def test_the_last_outcome_in_flight_is_written_without_lingering(
    engine: AsyncEngine, start_worker: MakeWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A linger longer than the test may take: only "no other attempt is running" can end it.
    monkeypatch.setattr(queue_module, "RECORD_LINGER", 60.0)
    repo = Repository(engine)
    new = new_application()
    await repo.accept(new)
    await start_worker(ScriptedConnector())

    view = await settled(repo, new.id)

    assert view.status == ApplicationStatus.DELIVERED
