"""Start a real pixpress server in a subprocess on port 0 and read its address."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil

LISTENING = "pixpress listening on "


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    address: str
    data_dir: Path
    log_lines: list[str] = field(default_factory=list)
    _reader: threading.Thread = field(default_factory=threading.Thread)

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self._reader.join(5)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()

    @property
    def log(self) -> str:
        return "".join(self.log_lines)


def start_server(
    data_dir: Path, extra_args: Sequence[str] = (), timeout: float = 120
) -> ServerProcess:
    """Start `pixpress-server --port 0` and wait for its listening line."""
    command = [
        sys.executable,
        "-m",
        "pixpress_server.main",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        *extra_args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    server = ServerProcess(process=process, address="", data_dir=data_dir)

    def read_log() -> None:
        assert process.stderr is not None
        with contextlib.suppress(ValueError):  # closed by stop()
            server.log_lines.extend(iter(process.stderr.readline, ""))

    stderr_reader = threading.Thread(target=read_log, daemon=True)
    stderr_reader.start()
    server._reader = stderr_reader
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(LISTENING):
            server.address = line[len(LISTENING) :].strip()
            return server
        if not line and process.poll() is not None:
            break
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.log}")


def worker_processes(server: ServerProcess) -> list[psutil.Process]:
    """The server's worker processes (spawned children running multiprocessing's spawn_main)."""
    workers = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and any(
                "spawn_main" in part for part in child.cmdline()
            ):
                workers.append(child)
        except psutil.Error:  # exited while we looked
            continue
    return workers


def create_key(data_dir: Path, owner: str) -> str:
    """`pixpress-server keys create --owner OWNER`: the printed key."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixpress_server.main",
            "keys",
            "create",
            "--owner",
            owner,
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return completed.stdout.strip()


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
