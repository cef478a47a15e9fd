"""Scale-out on PostgreSQL under load and faults: nothing accepted is ever lost.

2 API + 3 worker processes, 5,000 applications submitted concurrently, a back-end that fails about
20 % of requests at random and hangs on some; one worker is killed with SIGKILL midway and another
started. Afterwards every accepted application is delivered, nothing is left pending or delivering,
duplicates are counted, and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from ozgbridge.store.notify import asyncpg_dsn
from tests.acceptance.conftest import (
    PORTAL_TOKEN,
    DedupBackend,
    Deployment,
    free_port,
    wait_ready,
    write_http_config,
)

pytestmark = pytest.mark.postgres

APPLICATIONS = 5000
FAILURE_RATE = 0.2
HANG_RATE = 0.01


class FlakyBackend(DedupBackend):
    """Fails ~20 % of requests with a random 5xx/429 and hangs on ~1 % past the timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(20261121)
        self.failed = 0
        self.hung = 0

    async def handle(self, request: web.Request) -> web.Response:
        roll = self.rng.random()
        if roll < HANG_RATE:
            self.hung += 1
            await asyncio.sleep(4)  # the workers' delivery timeout is 2 s
        elif roll < HANG_RATE + FAILURE_RATE:
            self.failed += 1
            await request.read()
            return web.Response(status=self.rng.choice([500, 502, 503, 429]))
        return await super().handle(request)


def application(i: int) -> dict[str, object]:
    return {
        "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
        "region": {"ags": "05370004"},
        "reference": f"LOAD-{i}",
        "data": {"mimeType": "application/json", "content": {"n": i, "pad": "x" * 800}},
    }


async def test_scale_out_under_faults_loses_nothing(
    deployment: Deployment, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = FlakyBackend()
    await backend.start()
    started = time.monotonic()
    try:
        write_http_config(deployment.config_dir, backend.url, retry_schedule=[0] + [0.2] * 15)
        deployment.env.update(
            {
                "OZGBRIDGE_DATABASE_URL": postgres_url,
                "OZGBRIDGE_LEASE_SECONDS": "5",
                "OZGBRIDGE_DELIVERY_TIMEOUT": "2",
                "OZGBRIDGE_WORKER_CONCURRENCY": "24",
                "OZGBRIDGE_LOG_LEVEL": "WARNING",
            }
        )
        config = str(deployment.config_dir)
        api_ports = [free_port(), free_port()]
        apis = [
            deployment.spawn("api", "--config", config, "--port", str(port)) for port in api_ports
        ]
        workers = [deployment.spawn("worker", "--config", config) for _ in range(3)]
        for port, process in zip(api_ports, apis, strict=True):
            await wait_ready(f"http://127.0.0.1:{port}", process)

        headers = {"Authorization": f"Bearer {PORTAL_TOKEN}"}
        accepted: set[str] = set()
        # aiohttp, not httpx: httpx's pool degrades badly with thousands of waiting requests,
        # which would measure the test's client instead of ozgbridge.
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as client:

            async def submit(i: int) -> None:
                port = api_ports[i % 2]
                url = f"http://127.0.0.1:{port}/v1/applications"
                async with client.post(url, json=application(i)) as answer:
                    assert answer.status == 202, await answer.text()
                    accepted.add((await answer.json())["id"])

            async def kill_one_worker_midway() -> None:
                async with asyncio.timeout(120):
                    while len(backend.stored) < APPLICATIONS // 4:
                        await asyncio.sleep(0.05)
                workers[0].kill()
                workers.append(deployment.spawn("worker", "--config", config))

            chaos = asyncio.create_task(kill_one_worker_midway())
            await asyncio.gather(*(submit(i) for i in range(APPLICATIONS)))
            submitted_at = time.monotonic()
            await chaos

        assert len(accepted) == APPLICATIONS
        pg = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:
            async with asyncio.timeout(240):
                while True:
                    open_count = await pg.fetchval(
                        "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'delivering')"
                    )
                    if open_count == 0:
                        break
                    await asyncio.sleep(0.5)
            states = dict(await pg.fetch("SELECT state, count(*) FROM deliveries GROUP BY state"))
            stored_ids = {r["id"] for r in await pg.fetch("SELECT id FROM applications")}
        finally:
            await pg.close()

        delivered_ids = {json.loads(body)["applicationId"] for body in backend.stored.values()}
        lost = accepted - delivered_ids
        with capsys.disabled():  # the counts belong in the CI log
            print(
                f"\nscale-out: submitted={APPLICATIONS} accepted={len(accepted)} "
                f"delivered={len(delivered_ids)} duplicates={backend.duplicates} lost={len(lost)} "
                f"backend_requests={backend.requests} failed={backend.failed} hung={backend.hung} "
                f"states={states} intake_s={submitted_at - started:.1f} "
                f"total_s={time.monotonic() - started:.1f}"
            )
        assert stored_ids == accepted
        assert states == {"delivered": APPLICATIONS}
        assert lost == set()
        assert backend.bad_signatures == 0
        for process in (*apis, *workers[1:]):
            assert process.terminate() == 0, process.log()[-2000:]
        verify = deployment.run("audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        await backend.stop()
