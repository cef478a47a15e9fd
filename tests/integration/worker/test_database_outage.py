"""The database goes away while a worker runs, and comes back: the worker says so in one line
per try (no traceback every few seconds), loses nothing, and delivers once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from ozgbridge.dataprotection.sealing import Sealer
from ozgbridge.domain import ApplicationStatus
from ozgbridge.store.engine import create_engine
from ozgbridge.store.repository import Repository
from ozgbridge.testing import ScriptedConnector
from tests.factories import new_application
from tests.integration.tcp_relay import TcpRelay, relayed
from tests.integration.worker.support import MakeWorker, settled

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine(postgres_url: str, pg_relay: TcpRelay) -> AsyncIterator[AsyncEngine]:
    """The worker's engine (`start_worker` takes this one): through the relay."""
    through = create_engine(relayed(postgres_url, pg_relay))
    yield through
    await through.dispose()


async def test_a_worker_waits_out_a_database_outage(
    postgres_url: str, pg_relay: TcpRelay, start_worker: MakeWorker, sealer: Sealer
) -> None:
    direct = create_engine(postgres_url)
    try:
        repo = Repository(direct, sealer=sealer)
        backend = ScriptedConnector()
        await pg_relay.cut()
        with capture_logs() as logs:
            await start_worker(backend)
            await asyncio.sleep(1.0)  # several claims' worth at a poll interval of 0.05 s
            new = new_application()
            await repo.accept(new)  # stored while the worker cannot reach the database
            await pg_relay.start()
            view = await settled(repo, new.id)
    finally:
        await direct.dispose()

    assert view.status == ApplicationStatus.DELIVERED
    assert [e.attempt for e in backend.received] == [1]
    failures = [e for e in logs if e["event"] in ("worker.claim_failed", "worker.poll_failed")]
    assert failures
    for line in failures:
        assert line["log_level"] == "warning"
        assert line["database"] == "unavailable"
        assert "exc_info" not in line
