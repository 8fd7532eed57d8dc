"""`GET /metrics` for Prometheus on its own port (`--metrics-port`), never on the public API's:
a small uvicorn server in the gRPC server's event loop, over the replica's registry."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.types import ASGIApp, Receive, Scope, Send

from pixpress_server.http.serve import bind
from pixpress_server.settings import SettingsError

METRICS_PATH = "/metrics"


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the gRPC server's handlers stop it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def metrics_app(registry: CollectorRegistry) -> ASGIApp:
    """/metrics (text or OpenMetrics, as the scraper asks); 404 for any other path."""
    exposition = make_asgi_app(registry)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == METRICS_PATH:
            await exposition(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": b"not found: try /metrics\n"})

    return app


class MetricsServer:
    """Bound at construction (port 0 is known before anything is printed)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._socket = bind(host, port, "--metrics-port")
        config = uvicorn.Config(
            metrics_app(registry),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        """Serve; returns once uvicorn accepts connections."""
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[self._socket])
        )
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise SettingsError("the metrics server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            self._socket.close()
            return
        self._server.should_exit = True
        await self._task
