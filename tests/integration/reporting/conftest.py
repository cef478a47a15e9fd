"""`reporting_api`: the app with the hand-built deployment and data, once per engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.reporting.support import Running, running_app


@pytest.fixture
async def reporting_api(database_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with running_app(database_url, tmp_path / "config") as running:
        yield running


@pytest.fixture
async def reporting_api_sqlite(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    """For behaviour that does not depend on the engine (roles, formats, errors)."""
    async with running_app(sqlite_url, tmp_path / "config") as running:
        yield running
