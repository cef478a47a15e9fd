"""The byte budget: first come first served, never over capacity, nothing leaks on timeout or
cancellation."""

from __future__ import annotations

import asyncio

import pytest

from ozgbridge.membudget import BudgetExhausted, ByteBudget


async def test_holders_within_capacity_go_at_once() -> None:
    budget = ByteBudget(100)
    assert await budget.acquire(60) == 60
    assert await budget.acquire(40) == 40
    assert budget.held == 100
    budget.release(60)
    budget.release(40)
    assert budget.held == 0


async def test_a_holder_larger_than_the_budget_runs_alone() -> None:
    budget = ByteBudget(100)
    assert await budget.acquire(500) == 100  # clamped: it can never fit otherwise
    waiting = asyncio.create_task(budget.acquire(1))
    await asyncio.sleep(0)
    assert not waiting.done()
    budget.release(100)
    assert await waiting == 1


async def test_waiters_are_served_in_order_so_a_large_one_is_not_starved() -> None:
    budget = ByteBudget(100)
    await budget.acquire(90)
    large = asyncio.create_task(budget.acquire(80))
    await asyncio.sleep(0)
    small = asyncio.create_task(budget.acquire(5))  # would fit now, but the large one is first
    await asyncio.sleep(0)
    assert not small.done()
    budget.release(90)
    assert await large == 80
    assert await small == 5
    assert budget.held == 85


async def test_a_timed_out_waiter_leaves_nothing_behind_and_lets_others_in() -> None:
    budget = ByteBudget(100)
    await budget.acquire(50)
    with pytest.raises(BudgetExhausted):
        await budget.acquire(80, wait=0.01)
    assert budget.waiting == 0
    assert budget.held == 50
    assert await budget.acquire(50, wait=0) == 50


async def test_a_large_waiter_giving_up_lets_the_small_ones_behind_it_in() -> None:
    budget = ByteBudget(100)
    await budget.acquire(50)
    large = asyncio.create_task(budget.acquire(80, wait=0.05))
    await asyncio.sleep(0)
    small = asyncio.create_task(budget.acquire(10))
    with pytest.raises(BudgetExhausted):
        await large
    assert await asyncio.wait_for(small, 1) == 10


async def test_a_cancelled_waiter_gives_back_what_it_was_granted() -> None:
    budget = ByteBudget(100)
    await budget.acquire(100)
    waiter = asyncio.create_task(budget.acquire(30))
    await asyncio.sleep(0)
    budget.release(100)  # grants the waiter …
    waiter.cancel()  # … which goes away before it ever runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert budget.held == 0
    assert budget.waiting == 0


async def test_hold_releases_on_error() -> None:
    budget = ByteBudget(10)
    with pytest.raises(RuntimeError):
        async with budget.hold(5):
            raise RuntimeError("boom")
    assert budget.held == 0
