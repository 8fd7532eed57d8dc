"""The shared background queue's depth for the metrics, read from the store on a timer: a
scrape never waits on a store query, and scraping faster never queries more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pixpress_server.store.base import ActionStore

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0


class QueueDepth:
    """Calls `report(queued, running)` with the route's background counts, once per
    `interval`; while the store fails, the last report stands."""

    def __init__(
        self,
        store: ActionStore,
        route_id: str,
        report: Callable[[int, int], None],
        interval: float = REFRESH_SECONDS,
    ) -> None:
        self._store = store
        self._route_id = route_id
        self._report = report
        self._interval = interval
        self._failing = False
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> bool:
        """Read once and report; False (logged once per outage) when the store failed."""
        try:
            queued, running = await self._store.count_background(self._route_id)
        except Exception as error:
            if not self._failing:
                logger.warning("reading the background queue's depth failed: %r", error)
            self._failing = True
            return False
        if self._failing:
            logger.info("the background queue's depth is read again")
        self._failing = False
        self._report(queued, running)
        return True

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._refreshing())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _refreshing(self) -> None:
        # A read slower than the interval (a store timing out) delays the next: one at a time.
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval)
