"""The dashboard over a real socket with the hand-built reporting data.

SQLite only: the UI's logic does not depend on the engine, and the figures are checked on both
engines in tests/integration/reporting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.reporting.support import Running, running_app


@pytest.fixture
async def ui(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with running_app(sqlite_url, tmp_path / "config") as running:
        yield running
