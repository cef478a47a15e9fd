"""The database goes away while the API runs, and comes back: submissions get 503 with
Retry-After (problem+json) meanwhile, never a 500, and are accepted again once it is back.
Nothing answered 202 is lost; a retry with its Idempotency-Key is never stored twice."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from ozgbridge.api.problems import DATABASE_RETRY_AFTER, TYPE_DATABASE_UNAVAILABLE
from ozgbridge.store.engine import create_engine
from tests.integration.api.support import StartApi, auth, body, stored_counts
from tests.integration.tcp_relay import TcpRelay, relayed

pytestmark = pytest.mark.postgres


async def test_a_database_outage_is_503_and_the_api_recovers(
    postgres_url: str, pg_relay: TcpRelay, start_api: StartApi
) -> None:
    api = await start_api(relayed(postgres_url, pg_relay))
    headers = {**auth("portal-a"), "Idempotency-Key": "outage-1"}
    first = await api.client.post("/v1/applications", json=body(), headers=auth("portal-a"))
    assert first.status == 202

    await pg_relay.cut()
    with capture_logs() as logs:
        during = await api.client.post("/v1/applications", json=body(), headers=headers)
        problem = await during.json(content_type=None)

    assert during.status == 503, problem
    assert during.headers["Content-Type"] == "application/problem+json"
    assert during.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert problem["type"] == TYPE_DATABASE_UNAVAILABLE
    [line] = [e for e in logs if e["event"] == "http.database_unavailable"]
    assert line["log_level"] == "error"
    assert "http.unhandled_error" not in [e["event"] for e in logs]

    await pg_relay.start()
    answers = []
    for _ in range(20):  # a pooled connection broken by the cut may fail once more
        again = await api.client.post("/v1/applications", json=body(), headers=headers)
        answers.append(again.status)
        if again.status == 202:
            break
        await asyncio.sleep(0.1)
    assert answers[-1] == 202, answers
    assert set(answers[:-1]) <= {503}, answers
    replay = await api.client.post("/v1/applications", json=body(), headers=headers)
    assert replay.status == 202
    assert replay.headers.get("Idempotent-Replayed") == "true"

    engine = create_engine(postgres_url)
    try:
        counts = await stored_counts(engine)
    finally:
        await engine.dispose()
    assert counts["applications"] == 2  # the first and the retried one, once
