"""The first step of a graceful shutdown: new calls are refused (UNAVAILABLE) while the work
in flight finishes, and health (NOT_SERVING by then) and reflection are still answered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import grpc

from pixpress_server.errors import ShuttingDown
from pixpress_server.servicers.guard import guard
from pixpress_server.servicers.idle import stop_server

if TYPE_CHECKING:
    from pixpress_server.health import ServingHealth
    from pixpress_server.servicers.errors import Context
    from pixpress_server.servicers.guard import Handler


class DrainGate:
    """Lets every call through until `close`; then (behind a GuardInterceptor) only health
    and reflection."""

    def __init__(self) -> None:
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def guarded(self, handler: Handler, _details: grpc.HandlerCallDetails) -> Handler:
        return guard(handler, self._refuse_when_closed)

    async def _refuse_when_closed(self, request: Any, _context: Context) -> Any:
        if self._closed:
            raise ShuttingDown("the server is shutting down; retry the request")
        return request


async def drain_then_stop(
    server: grpc.aio.Server,
    grace: float,
    health: ServingHealth,
    gate: DrainGate,
    *in_flight: Awaitable[object],
) -> None:
    """NOT_SERVING and refuse new calls; stop the server once `in_flight` is done (or after
    `grace` seconds in all): until then a health check is still answered."""
    await health.drain()
    gate.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    work = asyncio.gather(*in_flight)
    await asyncio.wait([work], timeout=grace)
    await stop_server(server, max(0.0, deadline - loop.time()), work)
