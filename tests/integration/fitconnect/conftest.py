"""A fake Zustelldienst per test, on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.zustelldienst import Zustelldienst
from tests.integration.fitconnect.support import FitConnectStandIn


@pytest.fixture
async def zustelldienst() -> AsyncIterator[Zustelldienst]:
    service = Zustelldienst()
    await service.start()
    yield service
    await service.close()


@pytest.fixture
async def standin(zustelldienst: Zustelldienst) -> AsyncIterator[FitConnectStandIn]:
    stand_in = FitConnectStandIn(zustelldienst)
    yield stand_in
    await stand_in.aclose()
