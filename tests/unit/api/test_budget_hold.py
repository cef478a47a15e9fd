"""A submission's hold on the intake memory budget (api/intake.py `budgeted`): taken on the way in,
given back on every way out, and a 503 problem when it does not become free in time."""

from __future__ import annotations

import pytest

from ozgbridge.api.intake import TYPE_BUSY, Received, budgeted
from ozgbridge.api.problems import Problem
from ozgbridge.membudget import ByteBudget


def received(size: int) -> Received:
    return Received(size, "0" * 64, raw=b"x" * size)


async def test_a_body_holds_twice_its_size_until_it_is_done() -> None:
    budget = ByteBudget(1000)
    async with budgeted(budget, received(100), wait=1):
        assert budget.held == 200
    assert budget.held == 0


async def test_the_share_is_given_back_when_the_submission_fails() -> None:
    budget = ByteBudget(1000)
    with pytest.raises(RuntimeError, match="refused"):
        async with budgeted(budget, received(100), wait=1):
            raise RuntimeError("refused")
    assert budget.held == 0


async def test_no_room_in_time_is_a_503_with_retry_after_and_takes_nothing() -> None:
    budget = ByteBudget(1000)
    async with budgeted(budget, received(400), wait=1):
        with pytest.raises(Problem) as refused:
            async with budgeted(budget, received(400), wait=0.05):
                pytest.fail("must not enter without room")
        assert budget.held == 800
    assert budget.held == 0
    assert refused.value.status == 503
    assert refused.value.type == TYPE_BUSY
    assert refused.value.headers == {"Retry-After": "1"}
