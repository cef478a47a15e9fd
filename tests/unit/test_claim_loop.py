"""The mechanics the delivery worker and the portal event sender share (ozgbridge.claim_loop)."""

from __future__ import annotations

import asyncio

from ozgbridge.claim_loop import ClaimLoop


async def test_then_runs_even_for_a_task_cancelled_before_it_began() -> None:
    loop, ended = ClaimLoop(shutdown_grace=1), []
    began = []

    async def work() -> None:
        began.append(True)

    loop._start("a", work(), name="a", then=lambda: ended.append("a"))
    loop._in_flight["a"].cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (began, ended, loop.in_flight) == ([], ["a"], 0)
    assert loop._slot_freed.is_set()


async def test_drain_waits_the_grace_then_cancels_what_still_runs() -> None:
    loop, seen = ClaimLoop(shutdown_grace=0.2), []

    async def quick() -> None:
        await asyncio.sleep(0.01)
        seen.append("quick done")

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("slow handed back")
            raise

    loop._start("q", quick(), name="q")
    loop._start("s", slow(), name="s")
    started = asyncio.get_running_loop().time()
    await loop._drain()
    assert sorted(seen) == ["quick done", "slow handed back"]
    assert loop.in_flight == 0
    assert 0.2 <= asyncio.get_running_loop().time() - started < 5


async def test_stop_ends_a_wait_and_a_sleep_at_once() -> None:
    loop = ClaimLoop(shutdown_grace=1)
    asyncio.get_running_loop().call_later(0.05, loop.stop)
    started = asyncio.get_running_loop().time()
    await loop._first_of(loop._wakeup, within=30)
    await loop._sleep(30)
    assert asyncio.get_running_loop().time() - started < 5
    assert loop._wakeup.is_set()  # stop wakes the loop too, so it sees the stop at once
