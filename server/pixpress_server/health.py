"""The standard grpc.health.v1 status, overall ("") and per service, which `GET /healthz` also
reads: SERVING while the pool has a live worker and the store answers, NOT_SERVING otherwise
and from the start of a drain on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grpc_health.v1 import health_pb2

if TYPE_CHECKING:
    from grpc_health.v1._async import HealthServicer

    from pixpress_server.store.base import Store
    from pixpress_server.workers.pool import WorkerPool

logger = logging.getLogger(__name__)

SERVING: int = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING: int = health_pb2.HealthCheckResponse.NOT_SERVING

# The store is asked this often (each probe bounded by the store's own short timeout), so an
# outage shows within about PROBE_EVERY plus that timeout.
PROBE_EVERY = 2.0

NO_WORKER = "no live worker"
NO_STORE = "the store does not answer"
DRAINING = "the server is shutting down"


class ServingHealth:
    """Publishes the pool's and the store's state to a HealthServicer for "" and each of
    `services`; `not_serving` says why it is NOT_SERVING (None while SERVING)."""

    def __init__(
        self,
        servicer: HealthServicer,
        services: Sequence[str],
        pool: WorkerPool,
        store: Store,
        probe_every: float = PROBE_EVERY,
    ) -> None:
        self._servicer = servicer
        self._names = ("", *services)
        self._pool = pool
        self._store = store
        self._probe_every = probe_every
        self._store_answers = True  # the store was opened just before
        self._draining = False
        self._changed = asyncio.Event()
        self._published: int | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def not_serving(self) -> str | None:
        """Why the server is NOT_SERVING now, or None when it is SERVING."""
        if self._draining:
            return DRAINING
        if self._pool.live_workers == 0:
            return NO_WORKER
        if not self._store_answers:
            return NO_STORE
        return None

    async def start(self) -> None:
        """Publish the current status now, then follow the pool and probe the store."""
        await self._publish()
        self._pool.on_change(self._changed.set)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow()), loop.create_task(self._probe())]

    async def drain(self) -> None:
        """NOT_SERVING for good: the server is shutting down (Check still answers)."""
        self._draining = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._servicer.enter_graceful_shutdown()

    async def _probe(self) -> None:
        while True:
            await asyncio.sleep(self._probe_every)
            try:
                answers = await self._store.reachable()
            except Exception:  # a bug in a probe must not leave health stuck on its last answer
                logger.exception("the store probe failed")
                answers = False
            if answers != self._store_answers:
                self._store_answers = answers
                self._changed.set()

    async def _follow(self) -> None:
        # One task publishes, from the state it reads when it runs: statuses never go out
        # of order, and a burst of changes ends on the latest.
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._publish()

    async def _publish(self) -> None:
        reason = self.not_serving
        status = SERVING if reason is None else NOT_SERVING
        if status == self._published:
            return
        if reason is not None:
            logger.warning("%s: NOT_SERVING until it recovers", reason)
        elif self._published is not None:
            logger.info("the workers and the store answer again: SERVING")
        self._published = status
        for name in self._names:
            await self._servicer.set(name, status)
