"""A third party's connector package, as its author and an operator would use it.

examples/ozgbridge-connector-example is installed offline into a directory of its own (pip
``--target``, no index, no build isolation), then: its tests — the shipped contract suite among
them — pass; ``ozgbridge connectors list`` shows its kind and options; and a deployment routes an
application to it, end to end, without one line of ozgbridge knowing the kind.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp import web

from ozgbridge.tenants import token_sha256
from ozgbridge.testing.contract import ConnectorContract
from tests.acceptance.conftest import REPO_ROOT, Deployment, free_port

EXAMPLE = REPO_ROOT / "examples" / "ozgbridge-connector-example"
SUBMISSION = REPO_ROOT / "config" / "examples" / "gewerbeanmeldung-erkelenz.json"
PORTAL_TOKEN = "acceptance-portal-token"
DMS_TOKEN = "dms-test-token"
CONTRACT_TESTS = sorted(name for name in dir(ConnectorContract) if name.startswith("test_"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(source copy, install directory): the package built and installed without network."""
    root = tmp_path_factory.mktemp("example-connector")
    source, site = root / "src", root / "site"
    # A copy: building writes build/ and *.egg-info next to the sources.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return source, site


def with_package(env: dict[str, str], site: Path) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))}


def test_the_shipped_contract_suite_passes_on_the_example_package(
    installed: tuple[Path, Path],
) -> None:
    source, site = installed
    env = with_package({k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, site)

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rA"],
        cwd=source, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACT_TESTS:
        assert f"TestZipUploadContract::{name} PASSED" in result.stdout, name
    assert "test_every_attempt_uploads_the_same_bytes_with_the_same_key PASSED" in result.stdout


def test_connectors_list_shows_the_installed_kind_and_its_options(
    installed: tuple[Path, Path], deployment: Deployment
) -> None:
    _, site = installed
    deployment.env = with_package(deployment.env, site)

    listed = deployment.run("connectors", "list", "--format", "json")
    table = deployment.run("connectors", "list")

    assert listed.returncode == 0, listed.stderr
    kinds = {entry["kind"]: entry for entry in json.loads(listed.stdout)["connectors"]}
    assert {"filedrop", "http", "smtp", "sftp", "fitconnect", "zipupload"} <= set(kinds)
    example = kinds["zipupload"]
    assert example["distribution"] == "ozgbridge-connector-example"
    assert example["class"] == "ozgbridge_connector_example:ZipUploadConnector"
    assert example["options"]["required"] == ["url"]
    assert example["options"]["properties"]["token"]["anyOf"][0]["format"] == "password"
    assert example["error"] is None
    assert table.returncode == 0, table.stderr
    assert "zipupload" in table.stdout
    assert "verify_tls" in table.stdout


class UploadInbox:
    """A DMS upload endpoint on 127.0.0.1 that keeps every archive it is sent."""

    def __init__(self) -> None:
        self.archives: list[tuple[str, bytes]] = []
        self.arrived = asyncio.Event()
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def upload(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {DMS_TOKEN}":
            return web.Response(status=401)
        self.archives.append((request.headers["Idempotency-Key"], await request.read()))
        self.arrived.set()
        return web.Response(status=201, headers={"Location": "/inbox/1"})

    async def __aenter__(self) -> UploadInbox:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/inbox", self.upload)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def inbox() -> AsyncIterator[UploadInbox]:
    async with UploadInbox() as server:
        yield server


def write_zipupload_config(root: Path, url: str) -> None:
    (root / "tenants").mkdir(parents=True)
    tenant = {
        "id": "erkelenz",
        "name": "Stadt Erkelenz",
        "ags": "05370004",
        "routes": [
            {
                "id": "dms",
                "services": ["*"],
                "connector": "zipupload",
                "options": {"url": url, "token": "${env:DMS_TOKEN}"},
            }
        ],
    }
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant), encoding="utf-8")
    keys = {"keys": [{"id": "portal", "role": "portal", "sha256": token_sha256(PORTAL_TOKEN)}]}
    (root / "keys.yaml").write_text(yaml.safe_dump(keys), encoding="utf-8")


async def test_a_deployment_routes_an_application_to_the_plugin(
    installed: tuple[Path, Path], deployment: Deployment, inbox: UploadInbox
) -> None:
    _, site = installed
    deployment.env = with_package({**deployment.env, "DMS_TOKEN": DMS_TOKEN}, site)
    write_zipupload_config(deployment.config_dir, f"http://127.0.0.1:{inbox.port}/inbox")
    validate = deployment.run("config", "validate", str(deployment.config_dir))
    assert validate.returncode == 0, validate.stderr
    serve = await deployment.serve("--upgrade")

    async with httpx.AsyncClient(base_url=deployment.url, timeout=30) as client:
        answer = await client.post(
            "/v1/applications",
            content=SUBMISSION.read_bytes(),
            headers={"Authorization": f"Bearer {PORTAL_TOKEN}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 202, answer.text
        application_id = answer.json()["id"]
        await asyncio.wait_for(inbox.arrived.wait(), timeout=30)

        [(key, archive)] = inbox.archives
        with zipfile.ZipFile(io.BytesIO(archive)) as unzipped:
            manifest = json.loads(unzipped.read("manifest.json"))
            data = json.loads(unzipped.read(manifest["files"]["data"]))
        assert manifest["applicationId"] == application_id
        assert key == manifest["deliveryId"]
        assert data == json.loads(SUBMISSION.read_text())["data"]["content"]
        for _ in range(100):
            status = (
                await client.get(
                    f"/v1/applications/{application_id}",
                    headers={"Authorization": f"Bearer {PORTAL_TOKEN}"},
                )
            ).json()
            if status["status"] == "delivered":
                break
            await asyncio.sleep(0.1)
    assert status["status"] == "delivered", status
    assert status["deliveries"][0]["connector"] == "zipupload"
    assert serve.terminate() == 0


def test_a_broken_package_is_listed_with_its_reason_and_fails_the_listing(
    deployment: Deployment,
) -> None:
    # An installed distribution whose entry point names a module that is not there.
    site = deployment.root / "broken-site"
    info = site / "ozgbridge_broken-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ozgbridge-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[ozgbridge.connectors]\nbroken = ozgbridge_broken_missing:Connector\n"
    )
    deployment.env = with_package(deployment.env, site)

    listed = deployment.run("connectors", "list", "--format", "json")
    table = deployment.run("connectors", "list")

    assert listed.returncode == 1
    kinds = {entry["kind"]: entry for entry in json.loads(listed.stdout)["connectors"]}
    assert kinds["broken"]["options"] is None
    assert "ModuleNotFoundError" in kinds["broken"]["error"]
    assert kinds["http"]["error"] is None  # one broken package spoils nothing else
    assert table.returncode == 1
    assert "broken" in table.stdout
    assert "cannot be loaded" in table.stdout
