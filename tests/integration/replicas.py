"""Replicas on one PostgreSQL store for the tests: `pixpress-server` commands, keys made with
`--store`, replicas started (and stopped) together, and reading the store's rows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from benchmarks import server as benchmark_server
from tests.integration.server_process import ServerProcess, start_server

__all__ = ["pixpress_server", "rows", "start_replicas", "stop_all", "store_key", "wait_until"]

COMMAND_TIMEOUT = 120.0


def pixpress_server(
    *arguments: str, prefix: Sequence[str] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`pixpress-server ARGUMENTS` to completion, without the caller's PIXPRESS_* variables
    (`env` is added to what remains); `prefix` goes before the Python, e.g. setpriv."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "pixpress_server.main", *arguments],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        env={**environ, **(env or {})},
    )


def store_key(store_url: str, owner: str) -> str:
    """`pixpress-server keys create --store URL --owner OWNER`: the printed key, which every
    replica on that store accepts."""
    return benchmark_server.new_key(owner, store=store_url)


def start_replicas(
    data_dirs: Sequence[Path],
    store_url: str,
    *arguments: str,
    blob_dir: Path | None = None,
    at_once: bool = False,
) -> list[ServerProcess]:
    """One replica per data dir on the store, one worker each, sharing `--blob-dir` when
    given, then `arguments`; `at_once` starts them all together (their migrations race).
    When one fails to start, the others are stopped and the error is raised."""
    command = ["--workers", "1", "--store", store_url]
    if blob_dir is not None:
        command += ["--blob-dir", str(blob_dir)]
    command += arguments
    if at_once:
        with ThreadPoolExecutor(len(data_dirs)) as pool:
            starting = [pool.submit(start_server, data_dir, command) for data_dir in data_dirs]
        started = [future.result() for future in starting if future.exception() is None]
        failed = [str(future.exception()) for future in starting if future.exception()]
        if failed:
            stop_all(started)
            raise AssertionError(f"{len(failed)} of {len(data_dirs)} replicas failed: {failed}")
        return started
    started = []
    try:
        for data_dir in data_dirs:
            started.append(start_server(data_dir, command))
    except BaseException:
        stop_all(started)
        raise
    return started


def stop_all(replicas: Sequence[ServerProcess]) -> list[int]:
    """Stop every replica (one killed already is harmless): their exit codes."""
    return [replica.stop() for replica in replicas]


def rows(store_url: str, query: str, *values: object) -> list[tuple[object, ...]]:
    """The rows of one query on the store, read on a connection of its own."""
    with psycopg.connect(store_url) as conn:
        return conn.execute(query.encode(), values).fetchall()


def wait_until(condition: Callable[[], object], what: str, timeout: float = 300.0) -> float:
    """Poll `condition` every 0.2 s until it is true and return the seconds that took; fail
    naming `what` after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.2)
    return time.monotonic() - started
