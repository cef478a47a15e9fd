"""The API fixtures, shared with tests/integration/api."""

from __future__ import annotations

from tests.integration.api.conftest import api_db, start_api

__all__ = ["api_db", "start_api"]
