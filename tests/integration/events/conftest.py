"""Fixtures: the portal's receiver, Erkelenz's back-end, and their secrets in the environment."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.events.portal import PortalReceiver
from tests.integration.events.support import ENV, PORTAL_SECRET, Backend


@pytest.fixture
async def portal(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PortalReceiver]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    receiver = PortalReceiver(PORTAL_SECRET)
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    server = Backend()
    await server.start()
    yield server
    await server.stop()
