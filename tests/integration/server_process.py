"""A real pixpress server in a subprocess on port 0 (benchmarks.server), plus test helpers."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import psutil
from pixpress.v1 import (
    actions_pb2,
    actions_pb2_grpc,
    assets_pb2_grpc,
    compress_pb2_grpc,
    routes_pb2_grpc,
)

from benchmarks import server as benchmark_server
from benchmarks.server import ServerProcess

__all__ = [
    "ServerProcess",
    "Stubs",
    "create_key",
    "http_client",
    "keyed_channel",
    "kill_server",
    "metrics_address",
    "start_server",
    "worker_processes",
]


def start_server(
    data_dir: Path, extra_args: Sequence[str] = (), timeout: float = 120
) -> ServerProcess:
    """`pixpress-server --port 0` on `data_dir`; the test creates the keys it needs."""
    return benchmark_server.start_server(data_dir, extra_args, timeout, create_api_key=False)


def http_client(server: ServerProcess, key: str | None = "", timeout: float = 120) -> httpx.Client:
    """An HTTP client of the server's HTTP port sending `key` (the server's own `api_key`
    when "", no Authorization header when None)."""
    headers = {} if key is None else {"Authorization": f"Bearer {key or server.api_key}"}
    return httpx.Client(base_url=f"http://{server.http_address}", headers=headers, timeout=timeout)


def worker_processes(server: ServerProcess) -> list[psutil.Process]:
    """The server's live worker processes."""
    return [psutil.Process(pid) for pid in server.worker_pids()]


METRICS_LISTENING = "pixpress metrics on "


def metrics_address(server: ServerProcess) -> str:
    """HOST:PORT of a server started with --metrics-port: the line after the HTTP API's (read
    once, right after the start)."""
    assert server.process.stdout is not None
    line = server.process.stdout.readline()
    assert line.startswith(METRICS_LISTENING), line
    return line[len(METRICS_LISTENING) :].strip()


def kill_server(server: ServerProcess, timeout: float = 30) -> None:
    """SIGKILL the server and then its workers: nothing of it finishes anything."""
    doomed = worker_processes(server)
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait(timeout)
    for process in doomed:
        try:
            process.kill()
            process.wait(timeout)
        except psutil.NoSuchProcess:
            continue
    if server.process.stdout is not None:
        server.process.stdout.close()


def create_key(data_dir: Path, owner: str) -> str:
    """`pixpress-server keys create --init --owner OWNER`: the printed key."""
    return benchmark_server.new_key(owner, data_dir=data_dir)


class _BearerKey(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamStreamClientInterceptor,  # type: ignore[type-arg]
):
    """Adds `authorization: Bearer <key>` to every call of a raw channel."""

    def __init__(self, key: str) -> None:
        self._metadata = ("authorization", f"Bearer {key}")

    def _details(self, details):  # type: ignore[no-untyped-def]
        metadata = [*(details.metadata or ()), self._metadata]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), requests)


def keyed_channel(address: str, key: str) -> grpc.Channel:
    """A raw channel that sends the API key on every call."""
    return grpc.intercept_channel(grpc.insecure_channel(address), _BearerKey(key))


@dataclass
class Stubs:
    """The pixpress stubs on one channel; `metadata` carries `key` when one is given."""

    channel: grpc.Channel
    key: str | None = None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.key}"),) if self.key else ()

    @property
    def compress(self) -> compress_pb2_grpc.CompressServiceStub:
        return compress_pb2_grpc.CompressServiceStub(self.channel)

    @property
    def assets(self) -> assets_pb2_grpc.AssetServiceStub:
        return assets_pb2_grpc.AssetServiceStub(self.channel)

    @property
    def actions(self) -> actions_pb2_grpc.ActionServiceStub:
        return actions_pb2_grpc.ActionServiceStub(self.channel)

    @property
    def routes(self) -> routes_pb2_grpc.RouteServiceStub:
        return routes_pb2_grpc.RouteServiceStub(self.channel)

    def get_action(self, action_id: str, timeout: float = 60.0) -> actions_pb2.Action:
        request = actions_pb2.GetActionRequest(id=action_id)
        return self.actions.GetAction(request, metadata=self.metadata, timeout=timeout)
