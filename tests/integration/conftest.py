"""Fixtures for integration tests of more than one area."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.tcp_relay import TcpRelay, relay_for


@pytest.fixture
async def pg_relay(postgres_url: str) -> AsyncIterator[TcpRelay]:
    """A relay, started, to the PostgreSQL server of ``postgres_url``: cut it and the database is
    away for whatever connects through it (`relayed`)."""
    running = relay_for(postgres_url)
    await running.start()
    yield running
    await running.cut()
