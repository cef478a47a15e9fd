"""`ozgbridge api --processes N` as a real process group on loopback, and what /proc says of it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OZGBRIDGE = str(Path(sys.executable).with_name("ozgbridge"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def accepted_connections(port: int) -> set[int]:
    """Inodes of the established server-side sockets on ``port`` (/proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":  # ESTABLISHED
                    inodes.add(int(fields[9]))
    return inodes


@dataclass
class Group:
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    def wait_for(self, event: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.events():
                if entry.get("event") == event:
                    return entry
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {event} in the log:\n{self.log_path.read_text()}")

    def children(self) -> list[int]:
        return children_of(self.popen.pid)

    def wait(self, timeout: float = 90) -> int:
        return self.popen.wait(timeout)

    def end(self) -> None:
        """Whatever happened: nothing of the group left running."""
        for pid in [*self.children(), self.popen.pid]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(30)


def start_group(
    config_dir: Path,
    database_url: str,
    workdir: Path,
    *,
    processes: int = 2,
    env: dict[str, str] | None = None,
) -> Group:
    port = free_port()
    log_path = workdir / f"group-{port}.log"
    environment = {
        **os.environ,
        "OZGBRIDGE_DATABASE_URL": database_url,
        "OZGBRIDGE_LOG_FORMAT": "json",
        **(env or {}),
    }
    args = [OZGBRIDGE, "api", "--config", str(config_dir), "--port", str(port)]
    args += ["--processes", str(processes)]
    with log_path.open("ab") as log:
        popen = subprocess.Popen(args, env=environment, stdout=log, stderr=log, cwd=workdir)
    return Group(popen, port, log_path)
