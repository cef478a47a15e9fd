"""`ozgbridge api --processes N`: N API processes on one port, under one supervising process.

The kernel spreads new connections over the N listening sockets (``SO_REUSEPORT``), so one
``ozgbridge api`` uses N cores. What the group needs once is done here, before the processes
start: the port is checked (`check_port`), and the start-up work that must happen once is done
(`prepare_group`: migrations with ``--upgrade``, an embedded audit key); then the supervisor
(`ozgbridge.process_supervisor`) runs the N processes until they end (`run_group`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ozgbridge import audit_keys, runtime
from ozgbridge.api import spool
from ozgbridge.dataprotection.startup import load_sealer
from ozgbridge.errors import OzgbridgeError
from ozgbridge.metrics_group import MEMBERS_FILE, MULTIPROC_ENV
from ozgbridge.process_supervisor import supervise
from ozgbridge.settings import Settings
from ozgbridge.store import migrate
from ozgbridge.store.engine import create_engine


class GroupError(OzgbridgeError):
    """The group cannot start (the port is taken, or cannot be shared)."""


def check_port(host: str, port: int) -> None:
    """Refuse a port that something already listens on: with ``SO_REUSEPORT`` a second group
    (an old version still running, say) would silently share it with this one."""
    if port == 0:
        raise GroupError("--processes above 1 needs a fixed port (not 0): all listen on one")
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise GroupError(f"cannot resolve {host}: {exc.strerror}") from None
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            # As the API binds: a port that only has connections in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise GroupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """The directory the processes keep their metric values in: ``PROMETHEUS_MULTIPROC_DIR`` if
    set (emptied of an earlier run's files: they would be summed in), else a temporary one,
    removed at the end."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in [*path.glob("*.db"), path / MEMBERS_FILE]:
            stale.unlink(missing_ok=True)
        yield path
        return
    # In memory if possible, as prometheus_client advises; /dev/shm stays writable where the root
    # file system is read-only (containers).
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108
    path = Path(tempfile.mkdtemp(prefix="ozgbridge-metrics-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def prepare_group(settings: Settings, *, upgrade: bool) -> None:
    """What a group of API processes does once, in its supervisor, before starting them: apply
    migrations (``--upgrade``: N processes would race to), make the embedded audit key (one
    process could read the file another is still writing), and check what every process checks
    at start (configuration, keys, spool directory, schema), so a mistake is reported once, not
    by N processes. Nothing here stays open: the processes start from scratch."""
    runtime.load(settings)
    audit_keys.for_service(
        settings.database_url, settings.audit_key, unkeyed=settings.audit_unkeyed
    )
    load_sealer(settings)
    spool.check_directory(settings.spool_dir)
    engine = create_engine(settings.database_url)
    try:
        await migrate.prepare(engine, settings.database_url, upgrade_first=upgrade)
    finally:
        await engine.dispose()


def run_group(settings: Settings, count: int) -> int:
    """Run ``count`` API processes until SIGTERM/SIGINT or until one ends; the exit code.
    `check_port` and `prepare_group` first."""
    with metrics_directory() as metrics_dir:
        return asyncio.run(supervise(settings, count, metrics_dir))
