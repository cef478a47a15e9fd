from collections.abc import AsyncIterator

import pytest

pytest.register_assert_rewrite("tests.backend")

from tests.backend import UploadEndpoint  # noqa: E402


@pytest.fixture
async def endpoint() -> AsyncIterator[UploadEndpoint]:
    server = UploadEndpoint()
    await server.start()
    yield server
    await server.close()
