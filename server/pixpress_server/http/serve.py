"""uvicorn serving the HTTP app inside the gRPC server's event loop, on a socket bound first
(so port 0 is known before anything is printed), with the same TLS files as gRPC; the
embedding serves /metrics (metrics_server.py) too."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from pixpress_server.settings import SettingsError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pixpress_server.settings import Settings


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the gRPC server's handlers stop it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int, flag: str = "--http-port") -> socket.socket:
    """A listening TCP socket on host:port; SettingsError naming `flag` if it is taken."""
    try:
        family, _, proto, _, _ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        # proto must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets
        # whose proto says TCP, and without it every keep-alive response waits ~40 ms (Nagle
        # holds the body behind the headers until the client's delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as error:
        raise SettingsError(f"{flag}: cannot listen on {host}:{port}: {error}") from None
    sock.setblocking(False)
    return sock


class EmbeddedUvicorn:
    """uvicorn serving `config`'s app on `sock` in the running event loop; `name` says which
    server in errors."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, name: str) -> None:
        self._server = _EmbeddedServer(config)
        self._socket = sock
        self._name = name
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
                self._task.result()  # raises uvicorn's startup error
                raise SettingsError(f"the {self._name} stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop accepting; in-flight requests get the config's graceful shutdown time."""
        if self._task is None:
            self._socket.close()
            return
        self._server.should_exit = True
        await self._task


class HttpServer(EmbeddedUvicorn):
    def __init__(self, app: FastAPI, settings: Settings, sock: socket.socket) -> None:
        tls: dict[str, object] = {}
        if settings.tls_cert is not None:
            tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
            if settings.tls_client_ca is not None:
                tls |= {
                    "ssl_ca_certs": str(settings.tls_client_ca),
                    "ssl_cert_reqs": ssl.CERT_REQUIRED,
                }
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=int(settings.shutdown_grace),  # in-flight requests
            **tls,  # type: ignore[arg-type]
        )
        super().__init__(config, sock, "HTTP server")
