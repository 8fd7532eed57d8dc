"""`GET /metrics` for Prometheus on its own port (`--metrics-port`), never on the public API's:
a small uvicorn server in the gRPC server's event loop, over the replica's registry."""

from __future__ import annotations

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.types import ASGIApp, Receive, Scope, Send

from pixpress_server.http.serve import EmbeddedUvicorn, bind

METRICS_PATH = "/metrics"


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


class MetricsServer(EmbeddedUvicorn):
    """Bound at construction (port 0 is known before anything is printed)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        config = uvicorn.Config(
            metrics_app(registry),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        super().__init__(config, bind(host, port, "--metrics-port"), "metrics server")
