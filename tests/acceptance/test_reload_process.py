"""A running `ozgbridge serve` reloads its configuration on SIGHUP and on a change of its files,
and keeps running with the old configuration when the new one is invalid."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
from typing import Any

import httpx

from tests.acceptance.conftest import REPO_ROOT, Deployment, Process

DEMO_PORTAL = "ozgb_demo_portal_NOT_FOR_PRODUCTION"


def events(process: Process, name: str) -> list[dict[str, Any]]:
    found = []
    for line in process.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == name:
            found.append(entry)
    return found


async def until_event(
    process: Process, name: str, count: int, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(process, name)
        if len(found) >= count:
            return found[count - 1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {name} #{count} within {timeout} s:\n{process.log()}")


async def submit(deployment: Deployment, token: str) -> int:
    document = json.loads(
        (REPO_ROOT / "config/examples/gewerbeanmeldung-erkelenz.json").read_text()
    )
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{deployment.url}/v1/applications",
            json=document,
            headers={"Authorization": f"Bearer {token}"},
        )
    return response.status_code


async def test_sighup_reloads_and_an_invalid_configuration_is_refused(
    deployment: Deployment,
) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    process = await deployment.serve("--upgrade")
    assert process.popen is not None
    created = deployment.run(
        "keys", "create", "--id", "portal-new", "--role", "portal", "--write",
        "--config", str(deployment.config_dir),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert await submit(deployment, token) == 401  # not before the reload

    process.popen.send_signal(signal.SIGHUP)
    reloaded = await until_event(process, "config.reloaded", 1)
    assert reloaded["actor"] == "signal:SIGHUP"
    assert reloaded["changed"] is True
    assert reloaded["keys"] == 3
    assert await submit(deployment, token) == 202

    tenant = deployment.config_dir / "tenants" / "erkelenz.yaml"
    tenant.write_text(tenant.read_text().replace('"05370004"', '"05370099"'), encoding="utf-8")
    process.popen.send_signal(signal.SIGHUP)
    refused = await until_event(process, "config.reload_refused", 1)
    assert any("erkelenz.yaml" in reason and "ags" in reason for reason in refused["reasons"])
    assert await submit(deployment, token) == 202  # still the previous configuration
    assert await submit(deployment, DEMO_PORTAL) == 202
    assert process.terminate() == 0


async def test_a_watching_process_reloads_when_its_files_change(deployment: Deployment) -> None:
    shutil.copytree(REPO_ROOT / "config", deployment.config_dir)
    deployment.env["OZGBRIDGE_CONFIG_WATCH_SECONDS"] = "0.2"
    process = await deployment.serve("--upgrade")
    keys = deployment.config_dir / "keys.yaml"
    keys.write_text(keys.read_text().replace("  - id: demo-portal", "  - id: demo-portal-x"))

    reloaded = await until_event(process, "config.reloaded", 1)

    assert reloaded["actor"] == "watch"
    assert process.terminate() == 0
