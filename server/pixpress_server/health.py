"""The standard grpc.health.v1 status, overall ("") and per service: SERVING while the pool
has a live worker, NOT_SERVING while it has none and from the start of a drain on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grpc_health.v1 import health_pb2

if TYPE_CHECKING:
    from grpc_health.v1._async import HealthServicer

    from pixpress_server.workers.pool import WorkerPool

logger = logging.getLogger(__name__)

SERVING: int = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING: int = health_pb2.HealthCheckResponse.NOT_SERVING


class ServingHealth:
    """Publishes the pool's state to a HealthServicer for "" and each of `services`."""

    def __init__(self, servicer: HealthServicer, services: Sequence[str], pool: WorkerPool) -> None:
        self._servicer = servicer
        self._names = ("", *services)
        self._pool = pool
        self._changed = asyncio.Event()
        self._published: int | None = None
        self._publisher: asyncio.Task[None] | None = None

    @classmethod
    async def started(
        cls, servicer: HealthServicer, services: Sequence[str], pool: WorkerPool
    ) -> ServingHealth:
        """Publish the current status now, then follow the pool."""
        health = cls(servicer, services, pool)
        await health._publish()
        pool.on_change(health._changed.set)
        health._publisher = asyncio.get_running_loop().create_task(health._follow())
        return health

    async def drain(self) -> None:
        """NOT_SERVING for good: the server is shutting down (Check still answers)."""
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
        await self._servicer.enter_graceful_shutdown()

    async def _follow(self) -> None:
        # One task publishes, from the state it reads when it runs: statuses never go out
        # of order, and a burst of changes ends on the latest.
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._publish()

    async def _publish(self) -> None:
        status = SERVING if self._pool.live_workers > 0 else NOT_SERVING
        if status == self._published:
            return
        if status == NOT_SERVING:
            logger.warning("no live worker: NOT_SERVING until a replacement is ready")
        elif self._published is not None:
            logger.info("a worker is live again: SERVING")
        self._published = status
        for name in self._names:
            await self._servicer.set(name, status)
