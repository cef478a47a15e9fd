"""`ozgbridge api --processes N`: one port, N processes, one supervisor — as an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from ozgbridge.store.engine import create_engine
from ozgbridge.store.tables import applications, audit_events
from tests.integration.api.support import auth, body, write_config
from tests.integration.processes.support import (
    OZGBRIDGE,
    Group,
    accepted_connections,
    alive,
    free_port,
    socket_inodes,
    start_group,
)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return write_config(tmp_path / "config")


@pytest.fixture
def group(config_dir: Path, sqlite_url: str, tmp_path: Path) -> Iterator[Group]:
    running = start_group(config_dir, sqlite_url, tmp_path)
    try:
        running.wait_for("processes.ready")
        yield running
    finally:
        running.end()


def _wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_both_processes_accept_connections_on_the_one_port(group: Group) -> None:
    children = group.children()
    assert len(children) == 2
    clients = []
    try:
        for _ in range(32):  # each its own connection: the kernel spreads them over both
            client = socket.create_connection(("127.0.0.1", group.port), timeout=10)
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.1 200")  # accepted and answered
            clients.append(client)
        accepted = accepted_connections(group.port)
        held = [len(socket_inodes(pid) & accepted) for pid in children]
    finally:
        for client in clients:
            client.close()
    assert sum(held) == 32
    assert all(count > 0 for count in held), held


def test_the_processes_share_one_dashboard_session_secret(group: Group) -> None:
    # Set by the supervisor (warned once there), so no process makes one of its own.
    warned = [e for e in group.events() if e.get("event") == "ui.session_secret_generated"]
    assert len(warned) == 1
    for pid in group.children():
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert any(v.startswith(b"OZGBRIDGE_UI_SESSION_SECRET=") for v in environment)


def test_sigterm_stops_every_process_cleanly(group: Group) -> None:
    children = group.children()

    group.popen.send_signal(signal.SIGTERM)

    assert group.wait() == 0
    assert not any(alive(pid) for pid in children)
    stopped = [e for e in group.events() if e.get("event") == "processes.child_stopped"]
    assert sorted(e["pid"] for e in stopped) == children
    assert all(e["returncode"] == 0 for e in stopped)


def test_a_killed_process_ends_the_group_with_a_failure(group: Group) -> None:
    victim, other = group.children()

    os.kill(victim, signal.SIGKILL)

    assert group.wait() == 1
    assert not alive(other)
    died = group.wait_for("processes.child_died")
    assert (died["pid"], died["returncode"]) == (victim, -signal.SIGKILL)


def test_a_killed_supervisor_leaves_no_process_behind(group: Group) -> None:
    children = group.children()

    group.popen.kill()

    _wait_until(lambda: not any(alive(pid) for pid in children))
    with socket.socket() as probe:  # and the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", group.port))


async def test_sighup_reloads_the_configuration_in_every_process(
    group: Group, sqlite_url: str
) -> None:
    group.popen.send_signal(signal.SIGHUP)

    engine = create_engine(sqlite_url)
    try:
        query = select(audit_events.c.details).where(
            audit_events.c.action == "config.reloaded", audit_events.c.actor == "signal:SIGHUP"
        )
        for _ in range(300):
            async with engine.connect() as conn:
                reloads = [json.loads(d) for d in (await conn.execute(query)).scalars()]
            if len(reloads) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    processes = {details["process"] for details in reloads}
    assert len(reloads) == 2
    assert len(processes) == 2
    assert all(f"-{pid}-" in " ".join(processes) for pid in group.children())


async def test_a_reload_on_request_reaches_every_process(group: Group, sqlite_url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{group.url}/v1/admin/reload", headers=auth("operator")) as answer,
    ):
        assert answer.status == 200, await answer.text()

    engine = create_engine(sqlite_url)
    try:
        query = select(audit_events.c.actor, audit_events.c.details).where(
            audit_events.c.action == "config.reloaded"
        )
        for _ in range(300):
            async with engine.connect() as conn:
                reloads = [(a, json.loads(d)) for a, d in (await conn.execute(query)).all()]
            if len(reloads) >= 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # and no more than one each
        async with engine.connect() as conn:
            reloads = [(a, json.loads(d)) for a, d in (await conn.execute(query)).all()]
    finally:
        await engine.dispose()
    # The process that answered reloaded for the operator; the supervisor had the other follow.
    assert sorted(actor for actor, _details in reloads) == ["key:operator", "signal:SIGHUP"]
    processes = {details["process"] for _actor, details in reloads}
    assert len(processes) == 2
    assert all(f"-{pid}-" in " ".join(processes) for pid in group.children())


async def _submit(url: str, count: int, concurrency: int) -> list[int]:
    statuses: list[int] = []
    numbers = iter(range(count))
    # A new connection per request, so both processes get some.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            for _ in numbers:
                headers = auth("portal-a")
                async with session.post(
                    f"{url}/v1/applications", json=body(), headers=headers
                ) as r:
                    statuses.append(r.status)

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return statuses


async def _stored(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.scalar(select(func.count()).select_from(applications))) or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("count", [60])
async def test_intake_on_sqlite_with_two_processes_commits_every_application(
    group: Group, sqlite_url: str, count: int
) -> None:
    statuses = await _submit(group.url, count, concurrency=16)

    assert statuses == [202] * count
    assert await _stored(sqlite_url) == count


@pytest.mark.postgres
async def test_intake_on_postgresql_with_two_processes_commits_every_application(
    config_dir: Path, postgres_url: str, tmp_path: Path
) -> None:
    running = start_group(config_dir, postgres_url, tmp_path)
    try:
        await asyncio.to_thread(running.wait_for, "processes.ready")
        statuses = await _submit(running.url, 300, concurrency=32)
        running.popen.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(running.wait) == 0
    finally:
        running.end()
    assert statuses == [202] * 300
    assert await _stored(postgres_url) == 300


def _samples(text: str, name: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    }


async def test_every_scrape_shows_the_whole_group(group: Group) -> None:
    assert await _submit(group.url, 20, concurrency=4) == [202] * 20
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        scrapes = []
        for _ in range(6):  # each on a new connection: both processes answer some
            async with session.get(f"{group.url}/metrics", headers=auth("metrics")) as answer:
                assert answer.status == 200
                scrapes.append(await answer.text())
    for text in scrapes:
        received = _samples(text, "ozgbridge_applications_received_total")
        assert sum(received.values()) == 20, received
        posts = _samples(text, "ozgbridge_http_requests_total")
        accepted = [v for k, v in posts.items() if 'method="POST"' in k and 'status="202"' in k]
        assert accepted == [20]
        assert len(_samples(text, "ozgbridge_build_info")) == 1
        memory = _samples(text, "process_resident_memory_bytes")
        assert sorted(memory) == [
            'process_resident_memory_bytes{process="0"}',
            'process_resident_memory_bytes{process="1"}',
        ]
        assert all(value > 0 for value in memory.values())


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OZGBRIDGE, "api", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_bad_processes_option_is_a_usage_error(value: str) -> None:
    result = _run_cli("--processes", value)
    assert result.returncode == 2
    assert "Invalid value for '--processes'" in result.stderr


def test_a_bad_processes_variable_names_it(config_dir: Path) -> None:
    result = _run_cli("--config", str(config_dir), env={"OZGBRIDGE_API_PROCESSES": "0"})
    assert result.returncode == 2
    assert "OZGBRIDGE_API_PROCESSES" in result.stderr
    assert "greater than or equal to 1" in result.stderr


def test_processes_need_a_fixed_port(config_dir: Path) -> None:
    result = _run_cli("--config", str(config_dir), "--processes", "2", "--port", "0")
    assert result.returncode == 2
    assert "needs a fixed port" in result.stderr


def test_a_port_in_use_is_refused_before_anything_starts(config_dir: Path, sqlite_url: str) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = _run_cli(
            "--config", str(config_dir), "--processes", "2", "--port", str(port),
            env={"OZGBRIDGE_DATABASE_URL": sqlite_url},
        )  # fmt: skip
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_start_up_problem_is_reported_once_by_the_supervisor(
    config_dir: Path, sqlite_url: str
) -> None:
    result = _run_cli(
        "--config", str(config_dir), "--processes", "2", "--port", str(free_port()),
        env={"OZGBRIDGE_DATABASE_URL": sqlite_url, "OZGBRIDGE_SPOOL_DIR": "/proc/no-such-dir"},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("OZGBRIDGE_SPOOL_DIR: cannot make a spool file") == 1
    assert "processes.started" not in result.stderr
