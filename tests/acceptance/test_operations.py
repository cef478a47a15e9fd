"""Operating ozgbridge as an operator does from a shell: `ozgbridge deliveries …` and
`ozgbridge routes …` against a running deployment, and a pause held across two worker processes
on PostgreSQL (through a restart), with metrics scraped from the API and both workers."""

from __future__ import annotations

import asyncio
import getpass
import json
import sqlite3
import time
from typing import Any

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from connectors._signing import verify_signature
from tests.acceptance.conftest import (
    OPERATOR_TOKEN,
    PORTAL_TOKEN,
    SIGNING_SECRET,
    DedupBackend,
    Deployment,
    free_port,
    wait_ready,
    write_http_config,
)


class SwitchBackend(DedupBackend):
    """Answers ``status`` (after checking the signature) until it is set back to 201."""

    def __init__(self) -> None:
        super().__init__()
        self.status = 201
        self.pings: list[dict[str, Any]] = []
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        if self.status != 201:
            self.refused += 1
            return web.Response(status=self.status)
        if body.get("type") == "ping":  # kept apart: a ping is no application
            if not verify_signature(SIGNING_SECRET, request.headers, raw):
                self.bad_signatures += 1
                return web.Response(status=401)
            self.pings.append(body)
            return web.json_response({"pong": True})
        return await super().handle(request)


def application(i: int) -> dict[str, object]:
    return {
        "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
        "region": {"ags": "05370004"},
        "reference": f"OPS-{i}",
        "data": {"mimeType": "application/json", "content": {"n": i}},
    }


async def submit(url: str, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {PORTAL_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api:
        answers = await asyncio.gather(
            *(api.post("/v1/applications", json=application(i)) for i in range(count))
        )
    assert [a.status_code for a in answers] == [202] * count
    return [a.json()["id"] for a in answers]


async def cli(deployment: Deployment, *args: str) -> Any:
    """The CLI in a thread: the back-end stand-in shares this event loop and must keep answering."""
    return await asyncio.to_thread(deployment.run, *args)


async def cli_json(deployment: Deployment, *args: str, code: int = 0) -> Any:
    result = await cli(deployment, *args, "--format", "json")
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


async def until(check: Any, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_an_operator_helps_a_failing_back_end_from_the_shell(deployment: Deployment) -> None:
    backend = SwitchBackend()
    backend.status = 400  # the back-end rejects everything: deliveries go dead at once
    await backend.start()
    try:
        write_http_config(deployment.config_dir, backend.url, retry_schedule=[0, 0.2])
        config = str(deployment.config_dir)
        await deployment.serve("--upgrade")
        await submit(deployment.url, 3)
        await until(lambda: backend.refused >= 3)

        async def dead_ids() -> list[str]:
            for _ in range(100):
                page = await cli_json(deployment, "deliveries", "list", "--state", "dead")
                if len(page["items"]) == 3:
                    return [item["id"] for item in page["items"]]
                await asyncio.sleep(0.1)
            raise AssertionError("the deliveries did not go dead")

        first, second, _third = await dead_ids()
        shown = await cli_json(deployment, "deliveries", "show", first)
        assert [(a["number"], a["statusCode"]) for a in shown["attempts"]] == [(1, 400)]
        table = await cli(deployment, "deliveries", "list", "--state", "dead")
        assert first in table.stdout
        assert "gescheitert" not in table.stdout  # the CLI speaks the API's state names
        assert "dead" in table.stdout

        # The municipality's endpoint: test it, fix it, test again.
        failing = await cli_json(
            deployment, "routes", "test", "erkelenz/alles", "--config", config, code=1
        )
        assert (failing["ok"], failing["statusCode"]) == (False, 400)
        backend.status = 201
        passing = await cli_json(deployment, "routes", "test", "erkelenz/alles", "--config", config)
        assert (passing["ok"], passing["statusCode"]) == (True, 200)
        assert backend.bad_signatures == 0
        assert backend.pings[-1]["deliveryId"] != first
        assert backend.stored == {}

        replay = await cli_json(deployment, "deliveries", "replay", first)
        assert replay == [{"id": first, "result": "pending", "detail": None}]
        await until(lambda: len(backend.stored) == 1)
        assert json.loads(next(iter(backend.stored.values())))["deliveryId"] == first

        dry = await cli_json(deployment, "deliveries", "replay", "--state", "dead", "--dry-run")
        assert dry == {"matched": 2, "replayed": 0}
        cancel = await cli(deployment, "deliveries", "cancel", second, "--reason", "Dublette")
        assert cancel.returncode == 0, cancel.stderr
        bulk = await cli_json(deployment, "deliveries", "replay", "--state", "dead")
        assert bulk == {"matched": 1, "replayed": 1}
        await until(lambda: len(backend.stored) == 2)
        again = await cli(deployment, "deliveries", "cancel", second, "--reason", "x")
        assert again.returncode == 1
        assert "cancelled already" in again.stdout

        shown = await cli_json(deployment, "deliveries", "show", first)
        assert [a["number"] for a in shown["attempts"]] == [1, 2]  # numbering goes on
        assert shown["ladderRung"] == 1
        missing = await cli(deployment, "deliveries", "show", "01NOTTHERE000000000000000")
        assert missing.returncode == 1

        paused = await cli(
            deployment, "routes", "pause", "erkelenz/alles", "--config", config, "--reason", "W"
        )
        assert paused.returncode == 0, paused.stderr
        routes = await cli_json(deployment, "routes", "list", "--config", config)
        assert [(r["route"], r["state"]) for r in routes] == [("alles", "paused")]
        unknown = await cli(deployment, "routes", "pause", "erkelenz/nope", "--config", config)
        assert unknown.returncode == 1

        assert (await cli(deployment, "audit", "verify")).returncode == 0
        database = deployment.env["OZGBRIDGE_DATABASE_URL"].split("///", 1)[1]
        with sqlite3.connect(database) as db:
            actors = dict(db.execute(
                "SELECT action, actor FROM audit_events WHERE action IN "
                "('delivery.replayed', 'delivery.cancelled', 'route.paused', 'route.tested')"
            ).fetchall())  # fmt: skip
        assert set(actors.values()) == {f"cli:{getpass.getuser()}"}
        assert set(actors) == {"delivery.replayed", "delivery.cancelled", "route.paused",
                               "route.tested"}  # fmt: skip
    finally:
        await backend.stop()


def scrape(url: str, token: str | None = None) -> dict[tuple[str, tuple[Any, ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


@pytest.mark.postgres
async def test_a_pause_holds_across_two_worker_processes_and_a_restart(
    deployment: Deployment, postgres_url: str
) -> None:
    backend = SwitchBackend()
    await backend.start()
    try:
        write_http_config(deployment.config_dir, backend.url, retry_schedule=[0, 0.2])
        config = str(deployment.config_dir)
        deployment.env.update(
            {"OZGBRIDGE_DATABASE_URL": postgres_url, "OZGBRIDGE_POLL_INTERVAL": "0.2"}
        )
        api_port = free_port()
        metrics_ports = [free_port(), free_port()]
        api = deployment.spawn("api", "--config", config, "--port", str(api_port))
        workers = [
            deployment.spawn("worker", "--config", config,
                             env={"OZGBRIDGE_METRICS_PORT": str(port)})
            for port in metrics_ports
        ]  # fmt: skip
        api_url = f"http://127.0.0.1:{api_port}"
        await wait_ready(api_url, api)
        operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        paused = httpx.post(f"{api_url}/v1/routes/erkelenz/alles/pause", headers=operator)
        assert paused.json()["state"] == "paused"

        accepted = await submit(api_url, 20)
        await asyncio.sleep(2)  # ten poll intervals of two workers: nothing may be attempted
        workers[0].terminate()
        port_env = {"OZGBRIDGE_METRICS_PORT": str(metrics_ports[0])}
        workers[0] = deployment.spawn("worker", "--config", config, env=port_env)
        await asyncio.sleep(2)  # the restarted worker holds the pause too

        assert backend.requests == 0
        listed = await cli_json(deployment, "deliveries", "list", "--limit", "100")
        assert {(i["state"], i["attempts"]) for i in listed["items"]} == {("pending", 0)}
        api_metrics = scrape(f"{api_url}/metrics", OPERATOR_TOKEN)
        labels = (("route", "alles"), ("state", "paused"), ("tenant", "erkelenz"))
        assert api_metrics[("ozgbridge_route_state", labels)] == 1
        pending = (("route", "alles"), ("state", "pending"), ("tenant", "erkelenz"))
        assert api_metrics[("ozgbridge_deliveries", pending)] == 20
        for port in metrics_ports:  # both workers are alive and claiming
            found = scrape(f"http://127.0.0.1:{port}/metrics")
            assert time.time() - found[("ozgbridge_worker_last_claim_timestamp_seconds", ())] < 5

        resumed = httpx.post(f"{api_url}/v1/routes/erkelenz/alles/resume", headers=operator)
        assert resumed.json()["state"] == "active"
        await until(lambda: len(backend.stored) == 20)

        delivered = {json.loads(b)["applicationId"] for b in backend.stored.values()}
        assert delivered == set(accepted)
        listed = await cli_json(deployment, "deliveries", "list", "--limit", "100")
        assert {(i["state"], i["attempts"]) for i in listed["items"]} == {("delivered", 1)}
        for process in (api, *workers):
            assert process.terminate() == 0, process.log()[-2000:]
    finally:
        await backend.stop()
