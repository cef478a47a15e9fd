"""The CLI as a user runs it: real subprocesses, a real socket, a real back-end stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web

from connectors._signing import verify_signature
from ozgbridge.dataprotection import keys as data_keys
from ozgbridge.tenants import token_sha256

REPO_ROOT = Path(__file__).resolve().parents[2]
OZGBRIDGE = str(Path(sys.executable).with_name("ozgbridge"))
PORTAL_TOKEN = "acceptance-portal-token"
OPERATOR_TOKEN = "acceptance-operator-token"
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_http_config(root: Path, backend_url: str, *, retry_schedule: list[float]) -> Path:
    """One tenant (Erkelenz) whose every service goes to the HTTP back-end stand-in."""
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    tenant = {
        "id": "erkelenz",
        "name": "Stadt Erkelenz",
        "ags": "05370004",
        "routes": [
            {
                "id": "alles",
                "services": ["*"],
                "connector": "http",
                "options": {"url": backend_url, "signing_secret": "${env:ACCEPTANCE_SECRET}"},
                "retry_schedule": retry_schedule,
            }
        ],
    }
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant), encoding="utf-8")
    keys = {
        "keys": [
            {"id": "portal", "role": "portal", "sha256": token_sha256(PORTAL_TOKEN)},
            {"id": "operator", "role": "operator", "sha256": token_sha256(OPERATOR_TOKEN)},
        ]
    }
    (root / "keys.yaml").write_text(yaml.safe_dump(keys), encoding="utf-8")
    return root


@dataclass
class Process:
    """An `ozgbridge …` subprocess with its log captured to a file."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        # The child keeps its own descriptor of the log; ours is not needed after the start.
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [OZGBRIDGE, *self.args], env=self.env, cwd=self.cwd, stdout=log, stderr=log
            )
        return self

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Deployment:
    """A temporary deployment: config dir, SQLite file, data dir, environment."""

    root: Path
    config_dir: Path
    port: int
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(
        self, *args: str, check: bool = False, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OZGBRIDGE, *args], env=self.env, cwd=self.root, capture_output=True, text=True,
            check=check, timeout=120, **kwargs,
        )  # fmt: skip

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> Process:
        """Start `ozgbridge ARGS…` in the background, its output in a log file under root."""
        process = Process(
            list(args),
            {**self.env, **(env or {})},
            self.root,
            self.root / f"{args[0]}-{len(self.processes)}.log",
        ).start()
        self.processes.append(process)
        return process

    async def serve(self, *extra: str) -> Process:
        process = self.spawn(
            "serve", "--config", str(self.config_dir), "--port", str(self.port), *extra
        )
        await wait_ready(self.url, process)
        return process


async def wait_ready(url: str, process: Process, timeout: float = 30) -> None:
    """Until /readyz answers 200; fails with the process log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            assert process.popen is not None
            if process.popen.poll() is not None:
                pytest.fail(f"ozgbridge exited with {process.popen.returncode}:\n{process.log()}")
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"ozgbridge not ready within {timeout} s:\n{process.log()}")


@pytest.fixture
def deployment(tmp_path: Path, audit_key_file: Path) -> Iterator[Deployment]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OZGBRIDGE_")}
    env.update(
        {
            "OZGBRIDGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ozgbridge.sqlite3'}",
            "OZGBRIDGE_DATA_DIR": str(tmp_path / "var"),
            "OZGBRIDGE_LOG_FORMAT": "json",
            "OZGBRIDGE_DATA_KEYS": str(tmp_path / "data-keys.yaml"),
            # The test process's key too: what a test writes itself verifies in the CLI.
            "OZGBRIDGE_AUDIT_KEY": str(audit_key_file),
            "ACCEPTANCE_SECRET": SIGNING_SECRET,
        }
    )
    data_keys.create_file(tmp_path / "data-keys.yaml")
    deployment = Deployment(tmp_path, tmp_path / "config", free_port(), env)
    yield deployment
    for process in deployment.processes:
        if process.popen is not None and process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait(10)


class DedupBackend:
    """A back-end that keeps each application once (by webhook-id) and counts duplicates.

    ``hang_first`` requests are held open for ``hang_seconds`` so that deliveries are in flight
    when the test kills ozgbridge.
    """

    def __init__(self, *, hang_first: int = 0, hang_seconds: float = 0.0) -> None:
        self.stored: dict[str, bytes] = {}
        self.requests = 0
        self.duplicates = 0
        self.bad_signatures = 0
        self.hang_first = hang_first
        self.hang_seconds = hang_seconds
        self.runner: web.AppRunner | None = None
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inbox"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        if not verify_signature(SIGNING_SECRET, request.headers, body):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.requests <= self.hang_first:
            await asyncio.sleep(self.hang_seconds)
        webhook_id = request.headers["webhook-id"]
        if webhook_id in self.stored:
            self.duplicates += 1
        else:
            self.stored[webhook_id] = body
        return web.json_response({"id": f"backend-{webhook_id}"}, status=201)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/inbox", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
