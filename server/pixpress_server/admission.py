"""Admission control: a bounded queue that fails fast, and a memory budget that waits.

Every request holds a queue slot from its first byte to its last, so at most
`max_queue` requests are staged at once, and at most `--max-slots-per-owner` of one
owner's (one key can't take every slot). Before its pixels are decoded a request
reserves its estimated worker memory; a request larger than the whole budget is
refused, the others wait their turn in arrival order (a big request is never
starved by a stream of small ones).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Iterator

from pixpress_server.errors import TooLarge

MIB = 1024 * 1024
# A full queue frees up as requests finish: a second is a typical request's time.
RETRY_AFTER_SECONDS = 1.0


class RequestQueue:
    """At most `capacity` requests in the server at once, `per_owner` of one owner's; the
    next one is refused."""

    def __init__(self, capacity: int, per_owner: int) -> None:
        self._capacity = capacity
        self._per_owner = per_owner
        self._in_use = 0
        self._held: collections.Counter[str] = collections.Counter()
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def in_use(self) -> int:
        """Slots held now: requests between their first byte and their last."""
        return self._in_use

    @contextlib.contextmanager
    def slot(self, owner: str) -> Iterator[None]:
        if self._in_use >= self._capacity:
            raise TooLarge(
                f"server busy: {self._in_use} requests in progress, the limit is "
                f"{self._capacity} (--max-queue); retry later",
                retry_after=RETRY_AFTER_SECONDS,
            )
        if self._held[owner] >= self._per_owner:
            raise TooLarge(
                f"{owner!r} already has {self._held[owner]} requests in progress, the limit "
                f"per owner is {self._per_owner} (--max-slots-per-owner); retry when one ends",
                retry_after=RETRY_AFTER_SECONDS,
            )
        self._in_use += 1
        self._held[owner] += 1
        self._empty.clear()
        try:
            yield
        finally:
            self._in_use -= 1
            self._held[owner] -= 1
            if not self._held[owner]:
                del self._held[owner]
            if not self._in_use:
                self._empty.set()

    async def drained(self) -> None:
        """Until no request holds a slot (on shutdown)."""
        await self._empty.wait()


class MemoryBudget:
    """Reserve estimated bytes; waits (FIFO) while the budget is full."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._used = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    @property
    def total(self) -> int:
        return self._total

    @property
    def used(self) -> int:
        """Estimated bytes reserved now."""
        return self._used

    @property
    def waiting(self) -> int:
        """Reservations waiting for room."""
        return sum(1 for _, future in self._waiters if not future.done())

    @contextlib.asynccontextmanager
    async def reserve(self, amount: int) -> AsyncIterator[None]:
        if amount > self._total:
            raise TooLarge(
                f"image needs an estimated {amount / MIB:.0f} MiB to compress, above the "
                f"memory budget of {self._total / MIB:.0f} MiB (--memory-budget)"
            )
        await self._acquire(amount)
        try:
            yield
        finally:
            self._used -= amount
            self._wake()

    async def _acquire(self, amount: int) -> None:
        if not self._waiters and self._used + amount <= self._total:
            self._used += amount
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (amount, future)
        self._waiters.append(entry)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self._used -= amount  # granted just as we were cancelled: give it back
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)
            self._wake()
            raise

    def _wake(self) -> None:
        while self._waiters:
            amount, future = self._waiters[0]
            if future.done():
                self._waiters.popleft()
                continue
            if self._used + amount > self._total:
                return
            self._waiters.popleft()
            self._used += amount
            future.set_result(None)
