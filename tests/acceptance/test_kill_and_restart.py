"""SIGKILL `ozgbridge serve` while deliveries are in flight, restart it: nothing is lost."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest

from tests.acceptance.conftest import (
    PORTAL_TOKEN,
    DedupBackend,
    Deployment,
    write_http_config,
)

APPLICATIONS = 60


def body(i: int) -> dict[str, object]:
    return {
        "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
        "region": {"ags": "05370004"},
        "reference": f"KILL-{i}",
        "data": {"mimeType": "application/json", "content": {"n": i}},
        "attachments": [
            {
                "filename": "nachweis.pdf",
                "mimeType": "application/pdf",
                "contentBase64": base64.b64encode(b"%PDF-1.4 " + bytes([i % 256]) * 1000).decode(),
            }
        ],
    }


async def test_sigkill_mid_delivery_loses_nothing(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = DedupBackend(hang_first=8, hang_seconds=10)
    await backend.start()
    try:
        write_http_config(deployment.config_dir, backend.url, retry_schedule=[0, 0.5, 1, 2, 5])
        # A short lease so the killed process's deliveries come back within the test.
        deployment.env.update({"OZGBRIDGE_LEASE_SECONDS": "4", "OZGBRIDGE_DELIVERY_TIMEOUT": "3"})
        first = await deployment.serve("--upgrade")

        headers = {"Authorization": f"Bearer {PORTAL_TOKEN}"}
        async with httpx.AsyncClient(base_url=deployment.url, headers=headers, timeout=30) as api:
            answers = await asyncio.gather(
                *(api.post("/v1/applications", json=body(i)) for i in range(APPLICATIONS))
            )
            assert [a.status_code for a in answers] == [202] * APPLICATIONS
            accepted = {a.json()["id"] for a in answers}

            # Kill while the back-end holds the first requests open: those are in flight.
            async with asyncio.timeout(20):
                while backend.requests < 8:
                    await asyncio.sleep(0.05)
            first.kill()
            delivered_before_kill = len(backend.stored)

            await deployment.serve()
            deadline = time.monotonic() + 60
            states: dict[str, str] = {}
            while time.monotonic() < deadline:
                views = await asyncio.gather(*(api.get(f"/v1/applications/{i}") for i in accepted))
                states = {v.json()["id"]: v.json()["status"] for v in views}
                if set(states.values()) == {"delivered"}:
                    break
                await asyncio.sleep(0.5)

        assert set(states.values()) == {"delivered"}, states
        delivery_ids = {json.loads(b)["deliveryId"] for b in backend.stored.values()}
        application_ids = {json.loads(b)["applicationId"] for b in backend.stored.values()}
        assert application_ids == accepted
        assert len(backend.stored) == APPLICATIONS == len(delivery_ids)
        assert backend.bad_signatures == 0
        with capsys.disabled():  # the counts belong in the CI log
            print(
                f"\nkill/restart: accepted={len(accepted)}"
                f" delivered_before_kill={delivered_before_kill}"
                f" stored={len(backend.stored)} duplicates_dropped={backend.duplicates}"
                f" requests={backend.requests}"
            )
        verify = deployment.run("audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        await backend.stop()
