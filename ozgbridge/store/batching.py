"""Group commit: concurrent writes that arrive while a transaction runs share the next one.

Why: every acceptance must append to the one audit chain, so its transactions serialise on the
chain's head (SQLite's write lock, PostgreSQL's advisory lock) — including the commit's fsync. One
transaction per request would cap intake at one fsync per application. Here, whatever queued up
while the previous flush was running goes into the next flush: a lone request still commits at
once (no added latency), and under load one lock hold and one fsync serve many applications.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog

T = TypeVar("T")
R = TypeVar("R")
logger = structlog.get_logger("ozgbridge.batching")


class Failed:
    """A flush's verdict that one item failed: its caller raises ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


# A flush answers per item: its result, or Failed(exception) for that item alone.
Flush = Callable[[list[T]], Awaitable[Sequence["R | Failed"]]]


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        flush: Flush[T, R],
        *,
        size_of: Callable[[T], int] = lambda _item: 1,
        max_items: int = 200,
        max_bytes: int = 32 * 1024 * 1024,
        flushers: int = 2,
        linger: float = 0.0,
    ) -> None:
        """``linger``: seconds a flush waits for more items before it takes its batch — for
        callers whose items arrive a few at a time from many tasks (outcomes of deliveries in
        flight), where a slightly later commit is worth far fewer transactions."""
        self._flush = flush
        self._size_of = size_of
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._flushers = flushers
        self._linger = linger
        self._pending: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._running: set[asyncio.Task[None]] = set()
        self._lingering: set[asyncio.Future[None]] = set()

    async def submit(self, item: T, *, last: bool = False) -> R:
        """Return ``item``'s result once committed; raise what the flush reported for it.

        ``last``: the caller knows nothing more will come for now, so a lingering flush need
        not wait out its linger for company that cannot arrive.
        """
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        while len(self._running) < self._flushers and self._pending:
            task = asyncio.create_task(self._drain(), name="group-commit")
            self._running.add(task)
        if last:
            for waiting in self._lingering:
                _settle_once(waiting)
        return await future

    def _take_batch(self) -> list[tuple[T, asyncio.Future[R]]]:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        size = 0
        while self._pending and len(batch) < self._max_items:
            item_size = self._size_of(self._pending[0][0])
            if batch and size + item_size > self._max_bytes:
                break
            batch.append(self._pending.popleft())
            size += item_size
        return batch

    async def _drain(self) -> None:
        try:
            await self._drain_pending()
        finally:
            # Leave the running set in the same step as the last look at the queue: were it left
            # in a done-callback (a later step), an item submitted in between would see a
            # flusher that is already gone and wait for ever.
            task = asyncio.current_task()
            if task is not None:
                self._running.discard(task)

    async def _drain_pending(self) -> None:
        while self._pending:
            # Let the tasks that are ready to run now hand in their items first: a flush that
            # never waits (SQLite on the loop's thread, store/sqlite_inline.py) gives nothing a
            # chance to queue up behind it, so without this pause every batch held only what
            # happened to be submitted in the same loop step.
            if self._linger and len(self._pending) < self._max_items:
                await self._linger_a_while()
            else:
                await asyncio.sleep(0)
            if not self._pending:  # another flusher took them meanwhile
                return
            batch = self._take_batch()
            try:
                outcomes: Sequence[R | Failed] = await self._flush([item for item, _ in batch])
            except BaseException as exc:
                outcomes = [Failed(exc)] * len(batch)
                if not isinstance(exc, Exception):  # cancelled: tell the callers, then stop
                    self._settle(batch, outcomes)
                    raise
            self._settle(batch, outcomes)

    async def _linger_a_while(self) -> None:
        """Wait ``linger`` seconds, or less if a submitter says it was the last (`submit`)."""
        loop = asyncio.get_running_loop()
        waiting: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(self._linger, _settle_once, waiting)
        self._lingering.add(waiting)
        try:
            await waiting
        finally:
            timer.cancel()
            self._lingering.discard(waiting)

    @staticmethod
    def _settle(batch: list[tuple[T, asyncio.Future[R]]], outcomes: Sequence[R | Failed]) -> None:
        for (_item, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the caller went away; the item is committed regardless
                continue
            if isinstance(outcome, Failed):
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome)


def _settle_once(waiting: asyncio.Future[None]) -> None:
    if not waiting.done():
        waiting.set_result(None)
