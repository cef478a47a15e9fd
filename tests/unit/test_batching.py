from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ozgbridge.store.batching import Failed, GroupCommit


class Recorder:
    def __init__(self, *, fail_on: set[int] | None = None, crash: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_on = fail_on or set()
        self.crash = crash

    async def flush(self, items: list[int]) -> Sequence[int | Failed]:
        self.batches.append(items)
        await self.release.wait()
        if self.crash:
            raise ConnectionError("database went away")
        return [Failed(ValueError(f"bad {i}")) if i in self.fail_on else i * 10 for i in items]


async def test_a_lone_item_is_flushed_at_once() -> None:
    recorder = Recorder()
    recorder.release.set()
    await GroupCommit(recorder.flush).submit(1)
    assert recorder.batches == [[1]]


async def test_items_arriving_during_a_flush_share_the_next_one() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.flush, flushers=1)
    first = asyncio.create_task(group.submit(0))
    while not recorder.batches:  # until the first flush has started (it waits on the database)
        await asyncio.sleep(0)
    rest = [asyncio.create_task(group.submit(i)) for i in range(1, 6)]
    await asyncio.sleep(0)
    recorder.release.set()
    await asyncio.gather(first, *rest)
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]


async def test_batches_are_bounded_by_count_and_bytes() -> None:
    recorder = Recorder()
    recorder.release.set()
    group = GroupCommit(recorder.flush, size_of=lambda i: 10, max_items=3, max_bytes=25, flushers=1)
    await asyncio.gather(*(group.submit(i) for i in range(7)))
    assert all(len(batch) <= 2 for batch in recorder.batches)
    assert sorted(i for batch in recorder.batches for i in batch) == list(range(7))


async def test_each_caller_gets_its_own_outcome() -> None:
    recorder = Recorder(fail_on={2})
    recorder.release.set()
    group = GroupCommit(recorder.flush)
    results = await asyncio.gather(*(group.submit(i) for i in range(4)), return_exceptions=True)
    assert results[:2] == [0, 10]
    assert isinstance(results[2], ValueError)
    assert results[3] == 30


async def test_a_failed_flush_fails_every_caller_in_it() -> None:
    recorder = Recorder(crash=True)
    recorder.release.set()
    group = GroupCommit(recorder.flush)
    results = await asyncio.gather(*(group.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    # and the group keeps working afterwards
    recorder.crash = False
    await group.submit(9)


async def test_a_caller_going_away_does_not_disturb_the_others() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.flush, flushers=1)
    leaving = asyncio.create_task(group.submit(1))
    staying = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    leaving.cancel()
    recorder.release.set()
    await staying
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert [i for batch in recorder.batches for i in batch] == [1, 2]


async def test_an_item_submitted_as_the_last_flusher_finishes_is_flushed() -> None:
    """The caller of the last flush resumes before the flusher's task is done; what it submits
    then must start a flusher of its own (it once waited for ever with one flusher)."""
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        return items

    group: GroupCommit[int, int] = GroupCommit(flush, flushers=1)
    for n in range(5):
        assert await asyncio.wait_for(group.submit(n), timeout=2) == n
    assert flushed == [[0], [1], [2], [3], [4]]


async def test_a_lingering_flush_takes_what_arrives_meanwhile() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        return items

    group: GroupCommit[int, int] = GroupCommit(flush, flushers=1, linger=0.05)

    async def later(n: int) -> int:
        await asyncio.sleep(0.01)
        return await group.submit(n)

    assert await asyncio.gather(group.submit(0), *(later(n) for n in range(1, 4))) == [0, 1, 2, 3]
    assert flushed == [[0, 1, 2, 3]]


async def test_the_last_item_cuts_the_linger_short() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        return items

    # A linger far longer than the test may take: only `last` can end it in time.
    group: GroupCommit[int, int] = GroupCommit(flush, flushers=1, linger=30)
    first = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0.01)
    assert not first.done()  # lingering for company
    results = await asyncio.wait_for(asyncio.gather(first, group.submit(1, last=True)), timeout=2)
    assert results == [0, 1]
    assert flushed == [[0, 1]]
