"""SIGKILL `ozgbridge serve` while portal events are being sent, restart it: every event still
reaches the portal — signed (checked with the `standardwebhooks` reference library) and, per
application, in order."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import yaml

from ozgbridge.tenants import token_sha256
from tests.acceptance.conftest import (
    OPERATOR_TOKEN,
    PORTAL_TOKEN,
    DedupBackend,
    Deployment,
    write_http_config,
)
from tests.integration.events.portal import PortalReceiver

APPLICATIONS = 10
IN_FLIGHT = 5
PORTAL_SECRET = "whsec_cG9ydGFsLWV2ZW50cy1zZWNyZXQtZm9yLXRlc3Rz"


def body(i: int) -> dict[str, object]:
    return {
        "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
        "region": {"ags": "05370004"},
        "reference": f"EVENTS-{i}",
        "data": {"mimeType": "application/json", "content": {"n": i}},
    }


async def test_sigkill_while_sending_events_loses_none(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = DedupBackend()
    portal = PortalReceiver(PORTAL_SECRET)
    portal.hang_seconds = 8
    portal.answers.extend(["hang"] * IN_FLIGHT)
    await backend.start()
    await portal.start()
    try:
        write_http_config(deployment.config_dir, backend.url, retry_schedule=[0, 0.5, 1, 2, 5])
        keys = {
            "keys": [
                {
                    "id": "portal",
                    "role": "portal",
                    "sha256": token_sha256(PORTAL_TOKEN),
                    "events": {
                        "url": portal.url,
                        "signing_secret": "${env:PORTAL_EVENTS_SECRET}",
                        "retry_schedule": [0, 0.5, 1, 2, 5],
                    },
                },
                {"id": "operator", "role": "operator", "sha256": token_sha256(OPERATOR_TOKEN)},
            ]
        }
        (deployment.config_dir / "keys.yaml").write_text(yaml.safe_dump(keys), encoding="utf-8")
        deployment.env.update(
            {
                "PORTAL_EVENTS_SECRET": PORTAL_SECRET,
                # a short lease, so the killed process's events come back within the test
                "OZGBRIDGE_LEASE_SECONDS": "4",
                "OZGBRIDGE_DELIVERY_TIMEOUT": "3",
            }
        )
        first = await deployment.serve("--upgrade")

        portal_api = {"Authorization": f"Bearer {PORTAL_TOKEN}"}
        operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        async with httpx.AsyncClient(base_url=deployment.url, timeout=30) as api:
            answers = await asyncio.gather(
                *(
                    api.post("/v1/applications", json=body(i), headers=portal_api)
                    for i in range(APPLICATIONS)
                )
            )
            assert [a.status_code for a in answers] == [202] * APPLICATIONS
            accepted = [a.json()["id"] for a in answers]
            for application_id in accepted:
                reported = await api.post(
                    f"/v1/applications/{application_id}/status",
                    json={"status": "confirmed", "fileReference": f"AZ-{application_id[-4:]}"},
                    headers=operator,
                )
                assert reported.status_code == 202, reported.text

            # Kill while the portal holds the first events open: those are in flight.
            async with asyncio.timeout(30):
                while portal.requests < IN_FLIGHT:
                    await asyncio.sleep(0.05)
            first.kill()
            received_before_kill = len(portal.events)

            await deployment.serve()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if all(len({e["id"] for e in portal.of(a)}) == 2 for a in accepted):
                    break
                await asyncio.sleep(0.2)
            dead = await api.get("/v1/events", params={"state": "dead"}, headers=operator)

        for application_id in accepted:
            # first arrivals, repeats dropped as a portal drops them: by webhook-id
            first_seen: dict[str, dict[str, object]] = {}
            for event in portal.of(application_id):
                first_seen.setdefault(event["id"], event)
            arrived = list(first_seen.values())
            # the status may have been reported before or after the delivery: either way the
            # portal hears them in the order they happened
            assert sorted(e["type"] for e in arrived) == [  # type: ignore[type-var]
                "application.delivered",
                "application.status",
            ], portal.dump()
            assert [e["occurredAt"] for e in arrived] == sorted(
                e["occurredAt"]
                for e in arrived  # type: ignore[type-var]
            ), portal.dump()
        assert dead.json()["items"] == []
        assert portal.refused_signatures == 0
        with capsys.disabled():  # the counts belong in the CI log
            print(
                f"\nevents kill/restart: applications={APPLICATIONS}"
                f" received_before_kill={received_before_kill}"
                f" received={len(portal.events)}"
                f" unique={len({e['id'] for e in portal.events})}"
                f" requests={portal.requests}"
            )
        verify = deployment.run("audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        await portal.stop()
        await backend.stop()
