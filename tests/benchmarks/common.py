"""Shared pieces of the benchmarks: databases, ozgbridge processes, a local back-end, load.

Every server is on loopback and started here; every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import asyncpg
import yaml
from aiohttp import web

from ozgbridge import audit_keys
from ozgbridge.dataprotection import keys as data_keys
from ozgbridge.store.migrate import upgrade
from ozgbridge.store.notify import asyncpg_dsn
from ozgbridge.tenants import token_sha256
from tests.benchmarks.load_client import LoadClient
from tests.conftest import PG_ADMIN_DSN, sqlalchemy_pg_url

OZGBRIDGE = str(Path(sys.executable).with_name("ozgbridge"))
REPOSITORY = Path(__file__).resolve().parents[2]
TOKEN = "bench-portal-token"


def api_processes(engine: str) -> int:
    """`ozgbridge api --processes N` for the intake and end-to-end runs: one per core on
    PostgreSQL, as a deployment on this machine would run it (with the lean load generator, two
    measured ~1.5x one on the 2-core reference machine; README: Benchmarks); one on SQLite, whose
    single writer gains nothing from more. BENCH_API_PROCESSES=N measures N instead."""
    given = os.environ.get("BENCH_API_PROCESSES")
    if given:
        return int(given)
    return min(2, os.cpu_count() or 1) if engine == "postgresql" else 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> int:
    """Sockets listening on ``port`` (one per process of a group sharing it)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                    count += 1
    return count


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` and all their descendants so far (Linux /proc; 0 where a
    process is gone). Read before and after a measured load, the difference is what the
    processes spent on it."""
    total = 0.0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                    todo += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Database:
    engine: str  # "sqlite" | "postgresql"
    url: str
    dsn: str | None = None  # asyncpg DSN for PostgreSQL


@asynccontextmanager
async def fresh_database(engine: str, workdir: Path) -> AsyncIterator[Database]:
    """A migrated, empty database; dropped afterwards."""
    if engine == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        yield Database("sqlite", url)
        return
    name = f"ozgb_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = sqlalchemy_pg_url(PG_ADMIN_DSN, name)
        await upgrade(url)
        yield Database("postgresql", url, asyncpg_dsn(url))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def write_config(root: Path, backend_url: str | None) -> Path:
    """One tenant (Erkelenz) routing everything to the http back-end (or a file drop)."""
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    connector: dict[str, Any] = (
        {"connector": "http", "options": {"url": backend_url}}
        if backend_url
        else {"connector": "filedrop", "options": {"directory": "dropbox"}}
    )
    tenant = {
        "id": "erkelenz",
        "name": "Stadt Erkelenz",
        "ags": "05370004",
        "routes": [{"id": "alles", "services": ["*"], **connector}],
    }
    (root / "tenants" / "erkelenz.yaml").write_text(yaml.safe_dump(tenant))
    digest = token_sha256(TOKEN)
    (root / "keys.yaml").write_text(
        yaml.safe_dump({"keys": [{"id": "bench", "role": "portal", "sha256": digest}]})
    )
    return root


@dataclass
class Ozgbridge:
    """`ozgbridge api|worker|serve` processes for one database and config."""

    database: Database
    config_dir: Path
    workdir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OZGBRIDGE_")}
        env.update(
            {
                "OZGBRIDGE_DATABASE_URL": self.database.url,
                "OZGBRIDGE_DATA_DIR": str(self.workdir / "var"),
                "OZGBRIDGE_LOG_LEVEL": "WARNING",
                "OZGBRIDGE_POLL_INTERVAL": "0.2",
                "OZGBRIDGE_AUDIT_KEY": str(self.audit_key()),
                # measured as deployed: form data and attachments sealed with AES-256-GCM
                "OZGBRIDGE_DATA_KEYS": str(self.data_keys()),
                **self.env_extra,
            }
        )
        return env

    def audit_key(self) -> Path:
        path = self.workdir / "audit-key.yaml"
        if not path.exists():
            audit_keys.create_file(path)
        return path

    def data_keys(self) -> Path:
        path = self.workdir / "data-keys.yaml"
        if not path.exists():
            data_keys.create_file(path)
        return path

    async def start(
        self, role: str, port: int | None = None, args: tuple[str, ...] = ()
    ) -> str | None:
        """Start ``ozgbridge role`` (with ``args``); with a port, wait until it answers — with
        ``--processes N``, until all N listen."""
        command = [OZGBRIDGE, role, "--config", str(self.config_dir), *args]
        if port is not None:
            command += ["--port", str(port)]
        with (self.workdir / f"{role}-{len(self.processes)}.log").open("ab") as log:
            self.processes.append(subprocess.Popen(command, env=self.env(), stdout=log, stderr=log))
        if port is None:
            return None
        listeners = int(args[args.index("--processes") + 1]) if "--processes" in args else 1
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"{url}/readyz") as answer:
                        if answer.status == 200 and listening(port) >= listeners:
                            return url
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"ozgbridge {role} did not become ready; see {self.workdir}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


@dataclass(frozen=True)
class Sample:
    """One request as the http connector sent it."""

    headers: dict[str, str]
    body: bytes


class Backend:
    """A back-end that answers 200 at once and notes when each application arrived."""

    def __init__(self) -> None:
        self.sample: Sample | None = None  # the first request that arrived
        self.arrivals: dict[str, float] = {}
        self.port = free_port()
        self.runner: web.AppRunner | None = None
        self.all_arrived = asyncio.Event()
        self.first_arrived = asyncio.Event()
        self.expected = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inbox"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.sample is None:
            self.sample = Sample(dict(request.headers), body)
        application_id = json.loads(body)["applicationId"]
        self.arrivals.setdefault(application_id, time.perf_counter())
        self.first_arrived.set()
        if self.expected and len(self.arrivals) >= self.expected:
            self.all_arrived.set()
        return web.Response(status=200, text='{"id": "ok"}', content_type="application/json")

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/inbox", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def application_body(attachment_bytes: int = 0) -> bytes:
    """About 1 KB of form data; optionally one attachment of the given size."""
    body: dict[str, Any] = {
        "service": {"leikaKey": "99050012104000", "name": "Gewerbeanmeldung"},
        "region": {"ags": "05370004"},
        "reference": "BENCH",
        "data": {"mimeType": "application/json", "content": {"pad": "x" * 900}},
    }
    if attachment_bytes:
        content = base64.b64encode(os.urandom(attachment_bytes)).decode()
        body["attachments"] = [
            {"filename": "anlage.pdf", "mimeType": "application/pdf", "contentBase64": content}
        ]
    return json.dumps(body).encode()


@dataclass
class LoadResult:
    count: int
    seconds: float
    latencies: list[float]
    ids: dict[str, float] = field(default_factory=dict)  # application id -> time of 202

    @property
    def rate(self) -> float:
        return self.count / self.seconds


async def submit_load(
    url: str, body: bytes, *, count: int, concurrency: int, pace: float | None = None
) -> LoadResult:
    """POST ``count`` applications over ``concurrency`` connections (or at ``pace`` per second),
    with the lean client of load_client.py; every answer must be 202."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    ids: dict[str, float] = {}
    async with LoadClient(url, "/v1/applications", headers, body, concurrency) as client:
        started = time.perf_counter()

        def answered(status: int, answer: bytes, latency: float) -> None:
            if status != 202:
                raise RuntimeError(f"HTTP {status}: {answer[:500]!r}")
            latencies.append(latency)
            ids[json.loads(answer)["id"]] = time.perf_counter()

        async def one() -> None:
            sent = time.perf_counter()
            answered(*await client.post(), time.perf_counter() - sent)

        if pace is None:
            await client.closed_loops(count, answered)
        else:
            tasks = []
            for n in range(count):
                delay = started + n / pace - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one()))
            await asyncio.gather(*tasks)
        seconds = time.perf_counter() - started
    return LoadResult(count, seconds, latencies, ids)


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ozgbridge-bench-"))


class Row(NamedTuple):
    """One line of the table; benchmarks may emit plain tuples in this order."""

    figure: str
    unit: str
    value: float
    notes: str
    ceiling: float | None = None
    ratio: float | None = None
    # A second reference measured in the same run (delivery: a bare httpx loop).
    alt_ceiling: float | None = None


Printer = Callable[[Row | tuple[Any, ...]], None]


async def bare_rate(
    client: str, request: Sample, url: str, *, processes: int, concurrency: int, count: int
) -> float:
    """Requests/s of ``processes`` bare ``client`` loops (tests.benchmarks.bare_client) posting
    ``request`` to ``url`` with ``concurrency`` connections each, started together."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(
            {"headers": request.headers, "body": base64.b64encode(request.body).decode()}, file
        )
    per_process = count // processes
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.benchmarks.bare_client",
            client,
            file.name,
            url,
            str(concurrency),
            str(per_process),
            cwd=REPOSITORY,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(processes)
    ]

    async def line(child: asyncio.subprocess.Process) -> bytes:
        assert child.stdout is not None
        return (await child.stdout.readline()).strip()

    try:
        async with asyncio.timeout(300):
            for child in children:
                if await line(child) != b"ready":
                    raise RuntimeError(f"bare {client} client did not start")
            for child in children:  # all at once, as the workers run side by side
                assert child.stdin is not None
                child.stdin.write(b"go\n")
                await child.stdin.drain()
            seconds = [float(await line(child)) for child in children]
            for child in children:
                if await child.wait() != 0:
                    raise RuntimeError(f"bare {client} client failed")
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
        Path(file.name).unlink()
    return per_process * processes / max(seconds)
