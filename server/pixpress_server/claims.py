"""The work queue's consumer: each replica claims queued background actions from the store
while it has free slots, and a heartbeat keeps the leases of the actions it works on alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pixpress_server.store.records import END_OF_TIME, Claim, utc_now

if TYPE_CHECKING:
    from pixpress_server.actions import ActionTracker
    from pixpress_server.store.base import ActionStore

logger = logging.getLogger(__name__)

# A submit on this replica wakes the loop at once; another replica's is seen within this.
POLL_SECONDS = 1.0
# Kept from the shutdown grace to hand unfinished work back before the store closes.
HAND_BACK_SECONDS = 2.0
HEARTBEATS_PER_LEASE = 3  # a lease survives two missed heartbeats (a busy loop, a slow store)


class ClaimLoop:
    """Runs `work(claim)` for each background action this replica claims, at most
    `capacity` at once."""

    def __init__(
        self,
        store: ActionStore,
        tracker: ActionTracker,
        route_id: str,
        capacity: int,
        work: Callable[[Claim], Awaitable[None]],
        alone: bool = False,
    ) -> None:
        self._store = store
        self._tracker = tracker
        self._route_id = route_id
        self._capacity = capacity
        self._work = work
        # The only replica (SQLite): leases left by a previous run of it are dead already.
        self._alone = alone
        self._wake = asyncio.Event()
        self._running: dict[asyncio.Task[None], str] = {}  # each task's action id
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._taken: list[Callable[[], None]] = []
        self._expired: list[Callable[[], None]] = []

    def on_lease(self, taken: Callable[[], None], expired: Callable[[], None]) -> None:
        """Call `taken` for every claim, `expired` for every claim of an expired lease."""
        self._taken.append(taken)
        self._expired.append(expired)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def capacity(self) -> int:
        return self._capacity

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._claiming()), loop.create_task(self._heartbeat())]

    def nudge(self) -> None:
        """Claim now: an action was just queued, or a slot freed."""
        self._wake.set()

    async def stop(self, grace: float) -> None:
        """Claim no more; let the work in flight finish within `grace` seconds, else hand it
        back to the queue (another replica runs it) and cancel it. The heartbeat runs until
        then, so nothing of ours expires while it finishes."""
        self._stopping = True
        self._wake.set()
        if self._running:
            finishing = max(0.0, grace - min(HAND_BACK_SECONDS, grace / 2))
            _, pending = await asyncio.wait(list(self._running), timeout=finishing)
            # Handed back before the cancel: a late finish of ours is void (no lease).
            held = [self._running[task] for task in pending if task in self._running]
            await asyncio.gather(
                *(self._tracker.release(action_id) for action_id in held), return_exceptions=True
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)

    async def claim_once(self) -> int:
        """Claim what the free slots allow and start it; how many were claimed."""
        free = self._capacity - len(self._running)
        if free <= 0 or self._stopping:
            return 0
        now = END_OF_TIME if self._alone else utc_now()
        self._alone = False  # only the first claim: from then on, the leases are ours
        claims = await self._store.claim_actions(self._route_id, self._tracker.lease(), now, free)
        for claim in claims:
            for taken in self._taken:
                taken()
            if claim.reclaimed:
                logger.warning("action %s: its lease expired, running it again", claim.action.id)
                for expired in self._expired:
                    expired()
            task = asyncio.get_running_loop().create_task(self._run(claim))
            self._running[task] = claim.action.id
        return len(claims)

    async def _run(self, claim: Claim) -> None:
        action = claim.action
        try:
            await self._work(claim)
        except asyncio.CancelledError:
            logger.info("action %s cancelled", action.id)
        except Exception:
            # `work` records the action's end; whatever escapes is logged, the loop goes on.
            logger.exception("background action %s", action.id)
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._running.pop(task, None)
            self._wake.set()

    async def _claiming(self) -> None:
        while not self._stopping:
            try:
                await self.claim_once()
            except Exception as error:  # the store is down: try again after the poll
                logger.warning("claiming background actions failed: %r", error)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _heartbeat(self) -> None:
        interval = self._tracker.lease_seconds / HEARTBEATS_PER_LEASE
        while True:
            await asyncio.sleep(interval)
            try:
                await self._tracker.renew()
                failed = await self._tracker.recover()
            except Exception as error:
                logger.warning("renewing leases failed: %r", error)
                continue
            if failed:
                logger.warning("%d actions of a replica that stopped: FAILED", failed)
