"""Acceptances that arrive while an intake transaction runs wait for it and share the next one."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from ozgbridge.store.acceptance import Acceptance
from ozgbridge.store.repository import LARGE_CONTENT, Repository
from tests.factories import new_application


async def test_acceptances_during_a_flush_share_the_next_transaction(engine: AsyncEngine) -> None:
    repo = Repository(engine)
    stored = repo._store
    batches: list[list[str]] = []
    first_running, release = asyncio.Event(), asyncio.Event()

    async def store(items: list[Acceptance]) -> None:
        batches.append([new.id for new, _, _ in items])
        if len(batches) == 1:
            first_running.set()
            await release.wait()
        await stored(items)

    repo._store = store  # type: ignore[method-assign]
    apps = [new_application() for _ in range(6)]
    first = asyncio.create_task(repo.accept(apps[0]))
    await first_running.wait()
    second = asyncio.create_task(repo.accept(apps[1]))
    for _ in range(5):
        await asyncio.sleep(0)  # a second flusher would have taken this one alone by now
    rest = [asyncio.create_task(repo.accept(new)) for new in apps[2:]]
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(first, second, *rest)
    assert batches == [[apps[0].id], [new.id for new in apps[1:]]]


async def test_large_acceptances_do_not_wait_for_each_other(engine: AsyncEngine) -> None:
    repo = Repository(engine)
    stored = repo._store
    running: list[str] = []
    both_running, release = asyncio.Event(), asyncio.Event()

    async def store(items: list[Acceptance]) -> None:
        running.extend(new.id for new, _, _ in items)
        if len(running) == 2:
            both_running.set()
        await release.wait()
        await stored(items)

    repo._store = store  # type: ignore[method-assign]
    big = [new_application(data=b"x" * (LARGE_CONTENT + 1)) for _ in range(2)]
    tasks = [asyncio.create_task(repo.accept(big[0]))]
    while not running:
        await asyncio.sleep(0.001)
    tasks.append(asyncio.create_task(repo.accept(big[1])))
    # One flush at a time (as for small ones) would hold the second back until the first ends.
    await asyncio.wait_for(both_running.wait(), timeout=5)
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(running) == sorted(new.id for new in big)
