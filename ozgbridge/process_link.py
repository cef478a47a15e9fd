"""A process's link to the supervisor of its group (`ozgbridge.processes`): one end of a socket
pair, handed over as ``--supervisor-fd``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import structlog

log = structlog.get_logger("ozgbridge.processes")

READY = b"ready\n"
# A process of the group reloaded on request (POST /v1/admin/reload): the others should too.
RELOAD_OTHERS = b"reload-others\n"


class SupervisorLink:
    """A group member's end of its socket pair (``--supervisor-fd``)."""

    def __init__(self, fd: int) -> None:
        self._socket = socket.socket(fileno=fd)
        self._socket.setblocking(False)

    def watch(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[], None]) -> None:
        """Call ``on_lost`` when the supervisor is gone (its end closed: it never writes)."""

        def readable() -> None:
            with contextlib.suppress(BlockingIOError):
                if self._socket.recv(64) == b"":
                    loop.remove_reader(self._socket.fileno())
                    log.warning("processes.supervisor_gone")
                    on_lost()

        loop.add_reader(self._socket.fileno(), readable)

    def ready(self) -> None:
        with contextlib.suppress(OSError):  # the supervisor is gone: watch() stops us
            self._socket.send(READY)

    def reload_others(self) -> None:
        """Ask the supervisor to have every other process of the group reload (SIGHUP)."""
        with contextlib.suppress(OSError):
            self._socket.send(RELOAD_OTHERS)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self._socket.fileno())
        self._socket.close()
