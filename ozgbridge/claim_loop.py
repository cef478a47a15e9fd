"""What a loop that claims leased work and runs each item as a task of its own needs, whatever
the work: the delivery worker (`ozgbridge.worker`) and the portal event sender
(`ozgbridge.events.dispatcher`) are both one.

It owns the signals between the loop and its tasks — a wake-up hint from outside, a slot freed
by a finished task, the stop request — the tasks in flight, and the end: on stop, the tasks
still running get the grace period and are cancelled after it (each hands its item back). What
to claim, when it is due and what a task does stay with the subclass.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine
from typing import Any


class ClaimLoop:
    def __init__(self, *, shutdown_grace: float) -> None:
        self._shutdown_grace = shutdown_grace
        self._wakeup = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    def wake(self) -> None:
        """A hint that work may be due."""
        self._wakeup.set()

    def stop(self) -> None:
        """Stop claiming; ``run`` then finishes or hands back the work in flight and returns."""
        self._stopping.set()
        self._wakeup.set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def _start(
        self,
        key: str,
        work: Coroutine[Any, Any, None],
        *,
        name: str,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Run ``work`` as the task for item ``key``; ``then`` runs when it has ended, however
        (also if it was cancelled before it began, where a ``finally`` in it would not run)."""
        task = asyncio.create_task(work, name=name)
        self._in_flight[key] = task
        task.add_done_callback(functools.partial(self._ended, key, then))

    def _ended(self, key: str, then: Callable[[], None] | None, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(key, None)
        if then is not None:
            then()
        self._slot_freed.set()

    async def _first_of(self, *events: asyncio.Event, within: float) -> None:
        """Until one of ``events`` (or stop) is set, at most ``within`` s; consumes slot_freed."""
        waiters = [asyncio.create_task(e.wait()) for e in (*events, self._stopping)]
        try:
            await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._slot_freed.clear()

    async def _sleep(self, seconds: float) -> None:
        """``seconds``, or less if stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _drain(self) -> None:
        """Let the tasks in flight end within the grace period; cancel the rest and wait for
        them to hand their items back."""
        if not self._in_flight:
            return
        _done, pending = await asyncio.wait(
            list(self._in_flight.values()), timeout=self._shutdown_grace
        )
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
