"""A byte budget: how much application content one process may hold in memory at once.

Both sides of the service hold whole applications in memory for a while — the API between
parsing a submission and committing it, a worker between loading an envelope and the back-end's
answer. Without a bound, peak memory grows with the number of clients uploading (or of
deliveries claimed) at once. A `ByteBudget` makes it grow with the budget instead: each holder
takes its size before it loads anything and gives it back when done; whoever does not fit waits
its turn, first come first served, so a large submission is not starved by a stream of small
ones. A single holder larger than the whole budget is let in alone, when nothing else is held.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ozgbridge.errors import OzgbridgeError


class BudgetExhausted(OzgbridgeError):
    """The bytes did not become free within the time the caller was willing to wait."""


class ByteBudget:
    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("a budget needs a positive capacity")
        self.capacity = capacity
        self.held = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _fits(self, size: int) -> bool:
        return self.held + size <= self.capacity or self.held == 0

    async def acquire(self, size: int, *, wait: float | None = None) -> int:
        """Take ``size`` bytes (at most the whole budget); `BudgetExhausted` after ``wait`` s.

        Returns the amount taken, to be given back with `release`.
        """
        size = max(0, min(size, self.capacity))
        if not self._waiters and self._fits(size):
            self.held += size
            return size
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(future), wait)
        except TimeoutError:
            if self._withdraw(entry):
                raise BudgetExhausted(size) from None
        except BaseException:
            if not self._withdraw(entry):
                self.release(size)  # granted just as the caller went away: hand it on
            raise
        return size

    def _withdraw(self, entry: tuple[int, asyncio.Future[None]]) -> bool:
        """Take a waiter out of the queue; False if its bytes were granted meanwhile."""
        future = entry[1]
        if future.done() and not future.cancelled():
            return False
        future.cancel()
        self._waiters.remove(entry)
        self._wake()  # a large waiter leaving may let smaller ones behind it in
        return True

    def release(self, size: int) -> None:
        self.held -= size
        if self.held < 0:
            raise RuntimeError("released more than was held")
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            size, future = self._waiters[0]
            if future.done():
                self._waiters.popleft()
                continue
            if not self._fits(size):
                return
            self._waiters.popleft()
            self.held += size
            future.set_result(None)

    @asynccontextmanager
    async def hold(self, size: int, *, wait: float | None = None) -> AsyncIterator[int]:
        taken = await self.acquire(size, wait=wait)
        try:
            yield taken
        finally:
            self.release(taken)
