"""Start a real pixpress server subprocess on port 0 and find its worker processes.

Used by the benchmark and by the integration tests (tests/integration/server_process.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

LISTENING = "pixpress listening on "
HTTP_LISTENING = "pixpress http on "


@dataclass
class ServerProcess:
    """A running `pixpress_server.main` subprocess."""

    process: subprocess.Popen[str]
    address: str
    data_dir: Path
    log_path: Path
    api_key: str | None = None
    """A key created for the benchmark (None when the server has no key store)."""
    http_address: str = ""
    """HOST:PORT of the HTTP API ("" when started with --http-port off)."""

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def worker_pids(self) -> list[int]:
        """The worker processes (spawned children running multiprocessing's spawn_main)."""
        try:
            children = psutil.Process(self.pid).children()
        except psutil.Error:
            return []
        pids = []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE and any(
                    "spawn_main" in part for part in child.cmdline()
                ):
                    pids.append(child.pid)
            except psutil.Error:
                continue
        return pids

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait (SIGKILL after `timeout`), and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def create_key(data_dir: Path, owner: str = "bench") -> str | None:
    """`pixpress-server keys create --init --owner OWNER`: the printed key (None if unsupported);
    `--init` creates the data dir's store when the server has not run there yet."""
    try:
        return new_key(owner, data_dir=data_dir)
    except RuntimeError:
        return None


def new_key(owner: str = "bench", *, data_dir: Path | None = None, store: str | None = None) -> str:
    """`pixpress-server keys create --owner OWNER` on the store at `store` (a PostgreSQL URL),
    else in `data_dir` (`--init`: its store is created if the server has not run there yet).

    Raises:
        RuntimeError: the command failed; its stderr.
    """
    if store is None and data_dir is None:
        raise ValueError("new_key needs a data_dir or a store")
    where = ["--store", store] if store else ["--data-dir", str(data_dir), "--init"]
    completed = subprocess.run(
        [sys.executable, "-m", "pixpress_server.main", "keys", "create", "--owner", owner, *where],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=_environment(),
    )
    key = completed.stdout.strip()
    if completed.returncode != 0 or not key:
        raise RuntimeError(f"keys create failed:\n{completed.stderr}")
    return key


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}


def start_server(
    data_dir: Path,
    extra_args: Sequence[str] = (),
    timeout: float = 120,
    create_api_key: bool = True,
) -> ServerProcess:
    """Start `pixpress_server.main --port 0` and wait for its listening line.

    With `create_api_key`, an API key of owner "bench" is created first (`.api_key`).

    Raises:
        RuntimeError: the server exited or did not listen within `timeout` seconds.
    """
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
    arguments = list(extra_args)
    if "--http-port" not in arguments:
        command += ["--http-port", "0"]  # never the default 8080: tests run side by side
    serves_http = "--http-port" not in arguments or (
        arguments[arguments.index("--http-port") + 1 :][:1] != ["off"]
    )
    env = _environment()
    data_dir.mkdir(parents=True, exist_ok=True)
    api_key = create_key(data_dir) if create_api_key else None
    log_path = data_dir / "server.log"
    # The log goes to a file, not a pipe: a reader thread here would compete with the
    # client for the GIL, and the server keeps its production INFO logging.
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    server = ServerProcess(
        process=process, address="", data_dir=data_dir, log_path=log_path, api_key=api_key
    )
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(LISTENING):
            server.address = line[len(LISTENING) :].strip()
            if not serves_http:
                return server
        elif line.startswith(HTTP_LISTENING):
            server.http_address = line[len(HTTP_LISTENING) :].strip()
            return server
        if not line and process.poll() is not None:
            break
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.log}")
