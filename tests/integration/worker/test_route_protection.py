"""Workers against a real webhook back-end: the circuit breaker rides out an outage without
anything going dead; max_in_flight holds across two workers. Both engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.tables import attempts, route_transitions
from tests.integration.ops_backend import CountingBackend
from tests.integration.worker.ops_support import (
    StartWorkers,
    accept_many,
    start_workers,
    states,
    write_http_config,
)

__all__ = ["start_workers"]  # the fixture


@pytest.fixture
async def backend() -> AsyncIterator[CountingBackend]:
    server = await CountingBackend().start()
    yield server
    await server.close()


async def test_breaker_rides_out_an_outage_and_nothing_goes_dead(
    engine: AsyncEngine, backend: CountingBackend, start_workers: StartWorkers, tmp_path: Path
) -> None:
    cooldown = 0.6
    config = write_http_config(
        tmp_path / "config",
        backend.url,
        retry_schedule=[0, 0.05, 0.05],  # three rungs only: the outage must not use them up
        breaker={"failures": 3, "cooldown": cooldown, "max_cooldown": 1.2},
    )
    backend.failing = True
    ids = await accept_many(engine, 12)
    await start_workers(config, count=1, worker_concurrency=2)

    # Let the outage last through several cool-downs (each probe fails, doubling up to 1.2 s).
    await backend.wait_for(requests=8, within=30)
    assert "dead" not in await states(engine)
    backend.failing = False
    await backend.wait_for(stored=12, within=30)

    async with asyncio.timeout(10):
        while (await states(engine)).get("delivered") != 12:
            await asyncio.sleep(0.05)
    assert backend.stored == set(ids)
    async with engine.connect() as conn:
        transitions = list(
            await conn.execute(select(route_transitions).order_by(route_transitions.c.at))
        )
        rungs = list(await conn.execute(select(attempts.c.number)))
    path = [(t.from_state, t.to_state) for t in transitions]
    assert path[0] == ("active", "open")
    assert path[-1] == ("half-open", "active")
    probes = [t.at for t in transitions if t.to_state == "half-open"]
    assert len(probes) >= 2
    # At most one probe per cool-down: each half-open came at least a cool-down after the last.
    opened = [t.at for t in transitions if t.to_state == "open"]
    for probe_at in probes:
        last_open = max(o for o in opened if o <= probe_at)
        assert (probe_at - last_open).total_seconds() >= cooldown - 0.05
    # While open, only probes reached the back-end: failed requests = the ones before it opened
    # (at most failures + in-flight) + one per probe.
    failed = [r for r in backend.requests if r.status == 503]
    assert len(failed) <= 3 + 2 + len(probes)
    assert len(rungs) == len(backend.requests)
    assert backend.bad_signatures == 0


async def test_max_in_flight_holds_across_two_workers(
    engine: AsyncEngine, backend: CountingBackend, start_workers: StartWorkers, tmp_path: Path
) -> None:
    backend.delay = 0.15
    config = write_http_config(tmp_path / "config", backend.url, max_in_flight=2)
    ids = await accept_many(engine, 14)

    await start_workers(config, count=2, worker_concurrency=8)
    await backend.wait_for(stored=14, within=60)

    assert backend.stored == set(ids)
    assert backend.max_concurrent == 2  # used, never exceeded


async def test_rate_limit_holds_across_two_workers(
    engine: AsyncEngine, backend: CountingBackend, start_workers: StartWorkers, tmp_path: Path
) -> None:
    rate = 5.0
    config = write_http_config(tmp_path / "config", backend.url, rate_limit=rate)
    ids = await accept_many(engine, 20)

    await start_workers(config, count=2, worker_concurrency=8)
    await backend.wait_for(stored=20, within=60)

    assert backend.stored == set(ids)
    times = sorted(r.at for r in backend.requests)
    # A bucket of one second's worth: the first 5 at once, then 5 per second — so 20 take at
    # least 3 s, and no second sees more than the burst plus a second's worth. (Claims are what
    # is limited; the back-end sees them a few milliseconds later, which may shift one across a
    # window's edge: hence one of slack.)
    assert times[-1] - times[0] >= (20 - rate) / rate - 0.3
    for i, start in enumerate(times):
        within_a_second = sum(1 for t in times[i:] if t - start < 1.0)
        assert within_a_second <= 2 * rate + 1
