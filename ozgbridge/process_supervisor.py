"""The supervisor of a group of API processes (`ozgbridge.processes`): it starts them, passes
signals on and ends the group when one of them ends. It holds no database connection and serves
nothing:

- SIGTERM and SIGINT are passed on to every process (each stops as a single ``ozgbridge api``
  does); the group's exit code is 0 only if every process then stopped cleanly. A process still
  running ``shutdown_grace`` + `STOP_MARGIN` seconds later is killed and the exit code is 1;
- SIGHUP is passed on: every process reloads the configuration directory by itself;
- a process that ends unasked (crash, OOM kill, a failed start) ends the group: the others are
  stopped and the supervisor exits with that process's exit code (1 if it had none, e.g. killed
  by a signal). Nothing is restarted here: a restart loop in here would hide a process that
  fails again and again, while systemd (``Restart=on-failure``), Kubernetes or compose restart
  the whole group and count its failures where operators look.

Why spawn, not fork: each process is started as ``python -m ozgbridge.cli api …``, exactly the
``ozgbridge api`` process that already runs several times on one database, so there is no code
path that exists only in a forked child. A fork would copy whatever the supervisor's start-up
left behind (the ``--upgrade`` run uses an event loop, aiosqlite threads, asyncpg and OpenSSL
state); spawning costs each process its own imports (about a second, and memory that a fork would
have shared only until reference counts touch it).

Each process gets one end of a socket pair (``--supervisor-fd``): it writes ``ready`` once it
listens, and when the supervisor dies (even by SIGKILL) the socket closes and the process stops —
no orphan keeps the port. The processes run in a session of their own, so a terminal's Ctrl-C
reaches them once, through the supervisor.

Metrics: the supervisor gives the processes a ``PROMETHEUS_MULTIPROC_DIR`` (the operator's, or a
temporary directory), so whichever process answers a scrape serves the sums over the group
(`ozgbridge.metrics_group`). Unless ``OZGBRIDGE_UI_SESSION_SECRET`` is set, it also gives them
one random dashboard session secret, so a session signed by one is known to all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from ozgbridge.metrics_group import MEMBERS_FILE, MULTIPROC_ENV
from ozgbridge.process_link import READY, RELOAD_OTHERS
from ozgbridge.settings import Settings

log = structlog.get_logger("ozgbridge.processes")

# Beyond shutdown_grace: closing the listener, the connections and the database pool.
STOP_MARGIN = 30.0


def child_command(settings: Settings, fd: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ozgbridge.cli",
        "api",
        "--config",
        str(settings.config_dir),
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--supervisor-fd",
        str(fd),
    ]


@dataclass
class _Child:
    index: int
    process: asyncio.subprocess.Process
    link: socket.socket

    @property
    def pid(self) -> int:
        return self.process.pid


def exit_code(returncode: int) -> int:
    """A process's exit code as the group's: killed by a signal (negative) counts as 1."""
    return returncode if returncode > 0 else 1


class Group:
    def __init__(self, settings: Settings, count: int, metrics_dir: Path) -> None:
        self.settings = settings
        self.count = count
        self.metrics_dir = metrics_dir
        self.children: list[_Child] = []
        self.stopping = asyncio.Event()
        self.failure: int | None = None

    async def start(self) -> None:
        env = {**os.environ, MULTIPROC_ENV: str(self.metrics_dir)}
        if self.settings.ui_session_secret is None:
            # One for the group, or a dashboard session would work only in the process that
            # signed it in — every other request would land on one that does not know it.
            env["OZGBRIDGE_UI_SESSION_SECRET"] = secrets.token_urlsafe(32)
            log.warning(
                "ui.session_secret_generated",
                hint="set OZGBRIDGE_UI_SESSION_SECRET so dashboard sessions survive restarts; "
                "until then the processes of this group share a random one",
            )
        for index in range(self.count):
            ours, theirs = socket.socketpair()
            with theirs:  # the child's copy stays open in the child only
                process = await asyncio.create_subprocess_exec(
                    *child_command(self.settings, theirs.fileno()),
                    env=env,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,
                )
            ours.setblocking(False)
            self.children.append(_Child(index, process, ours))
        members = "".join(f"{c.index} {c.pid}\n" for c in self.children)
        (self.metrics_dir / MEMBERS_FILE).write_text(members, encoding="ascii")
        log.info("processes.started", processes=self.count, pids=[c.pid for c in self.children])

    def signal_all(self, sig: int) -> None:
        for child in self.children:
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if not self.stopping.is_set():
            log.info("processes.stopping", signal=signal.Signals(sig).name)
        self.stopping.set()
        self.signal_all(sig)

    def reload(self) -> None:
        log.info("processes.reload", processes=self.count)
        self.signal_all(signal.SIGHUP)

    async def _await_ready(self) -> None:
        loop = asyncio.get_running_loop()
        for child in self.children:
            line = await loop.sock_recv(child.link, len(READY))
            if line != READY:  # ended before it listened: its exit is handled in run()
                return
        log.info("processes.ready", processes=self.count, pids=[c.pid for c in self.children])
        for child in self.children:
            loop.add_reader(child.link.fileno(), self._heard, child)

    def _heard(self, child: _Child) -> None:
        """A message from a ready process: a reload on request, to be passed to the others."""
        try:
            message = child.link.recv(256)
        except BlockingIOError:
            return
        except OSError:
            message = b""
        if not message:  # its end closed: it is ending (run() sees its exit)
            asyncio.get_running_loop().remove_reader(child.link.fileno())
            return
        if RELOAD_OTHERS in message:
            log.info("processes.reload_others", requested_by=child.pid)
            for other in self.children:
                if other is not child and other.process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        other.process.send_signal(signal.SIGHUP)

    def _ended(self, child: _Child) -> None:
        from prometheus_client import multiprocess  # noqa: PLC0415 - needs the directory set

        returncode = child.process.returncode
        assert returncode is not None
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(child.pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]
        if not self.stopping.is_set():
            log.error(
                "processes.child_died", index=child.index, pid=child.pid, returncode=returncode
            )
            self.failure = exit_code(returncode)
            self.stop()
            return
        log.info("processes.child_stopped", index=child.index, pid=child.pid, returncode=returncode)
        if returncode != 0 and self.failure is None:
            self.failure = exit_code(returncode)

    async def run(self) -> int:
        ready = asyncio.create_task(self._await_ready(), name="processes-ready")
        waits = {asyncio.create_task(c.process.wait()): c for c in self.children}
        stop_waiter = asyncio.create_task(self.stopping.wait())
        deadline: float | None = None
        loop = asyncio.get_running_loop()
        try:
            while waits:
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                watched = [*waits] if deadline is not None else [*waits, stop_waiter]
                done, _ = await asyncio.wait(
                    watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done & waits.keys():
                    self._ended(waits.pop(task))
                if self.stopping.is_set() and deadline is None:
                    deadline = loop.time() + self.settings.shutdown_grace + STOP_MARGIN
                elif not done and waits:  # the deadline passed
                    log.error("processes.kill", pids=[c.pid for c in waits.values()])
                    self.failure = self.failure or 1
                    self.signal_all(signal.SIGKILL)
                    deadline = loop.time() + STOP_MARGIN
        finally:
            for pending in (ready, stop_waiter, *waits):
                pending.cancel()
            await asyncio.gather(ready, stop_waiter, return_exceptions=True)
            for child in self.children:
                loop.remove_reader(child.link.fileno())
                child.link.close()
        log.info("processes.stopped", exit_code=self.failure or 0)
        return self.failure or 0


async def supervise(settings: Settings, count: int, metrics_dir: Path) -> int:
    group = Group(settings, count, metrics_dir)
    loop = asyncio.get_running_loop()
    handlers: dict[signal.Signals, Callable[[], None]] = {
        signal.SIGTERM: lambda: group.stop(signal.SIGTERM),
        signal.SIGINT: lambda: group.stop(signal.SIGINT),
        signal.SIGHUP: group.reload,
    }
    for sig, handler in handlers.items():
        loop.add_signal_handler(sig, handler)
    try:
        await group.start()
        return await group.run()
    finally:
        group.signal_all(signal.SIGKILL)  # only if start() failed half-way: none left otherwise
        for sig in handlers:
            loop.remove_signal_handler(sig)
