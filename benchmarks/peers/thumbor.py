"""thumbor (Pillow and libjpeg-turbo behind Tornado) as a real HTTP server with the file loader.

It runs from its own venv (benchmarks/.peers/thumbor-venv), on 127.0.0.1, over a directory of
inputs; every request is bounded by a timeout and the server is stopped after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from benchmarks.measure import cpu_delta, cpu_seconds, tree_pids
from benchmarks.peers import BatchJob, BatchResult
from benchmarks.peers.install import thumbor_executable

REQUEST_TIMEOUT = 120.0
THUMBOR_FORMATS = frozenset({"jpeg", "png", "webp", "gif"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def config_text(root: Path) -> str:
    """thumbor.conf: files from `root`, nothing stored, no auto-conversion."""
    return "\n".join(
        [
            "LOADER = 'thumbor.loaders.file_loader'",
            f"FILE_LOADER_ROOT_PATH = {str(root)!r}",
            "STORAGE = 'thumbor.storages.no_storage'",
            "RESULT_STORAGE = 'thumbor.result_storages.no_storage'",
            "ALLOW_UNSAFE_URL = True",
            "AUTO_WEBP = False",
            "",
        ]
    )


class ThumborPeer:
    """A thumbor server over `root` with `processes` Tornado processes; `with` starts, stops it."""

    name = "thumbor"

    def __init__(self, root: Path, processes: int = 2, executable: Path | None = None) -> None:
        self.root = root
        self.processes = processes
        self.executable = executable or thumbor_executable()
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def missing(self) -> str | None:
        if not self.executable.exists():
            return (
                f"thumbor skipped: not installed at {self.executable} "
                "(run: python -m benchmarks.compare --install-peers)"
            )
        return None

    def __enter__(self) -> ThumborPeer:
        self._scratch = tempfile.TemporaryDirectory(prefix="thumbor-")
        config = Path(self._scratch.name) / "thumbor.conf"
        config.write_text(config_text(self.root))
        self.port = _free_port()
        log = (Path(self._scratch.name) / "thumbor.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(self.executable),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-c",
                str(config),
                "--processes",
                str(self.processes),
                "-l",
                "error",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self._url("healthcheck"), timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError("thumbor did not start")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            children = tree_pids(self.process.pid)[1:]
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid in children:  # forked Tornado processes left behind, if any
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._scratch.cleanup()

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _fetch(self, job: BatchJob, quality: int) -> tuple[str, int, str]:
        relative = urllib.parse.quote(job.input.relative_to(self.root).as_posix())
        try:
            with urllib.request.urlopen(
                self._url(f"unsafe/filters:quality({quality})/{relative}"), timeout=REQUEST_TIMEOUT
            ) as response:
                body = response.read()
        except (urllib.error.URLError, OSError) as error:
            return job.name, -1, f"{job.name}: {error}"
        job.output.parent.mkdir(parents=True, exist_ok=True)
        job.output.write_bytes(body)
        return job.name, len(body), ""

    def compress(self, jobs: Sequence[BatchJob], quality: int, concurrency: int = 4) -> BatchResult:
        """GET every job at `quality` with `concurrency` requests in flight; server-tree CPU."""
        assert self.process is not None
        before = cpu_seconds(tree_pids(self.process.pid))
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(lambda job: self._fetch(job, quality), jobs))
        wall = time.perf_counter() - started
        cpu = cpu_delta(before, cpu_seconds(tree_pids(self.process.pid)))
        sizes = {name: size for name, size, _ in results if size >= 0}
        errors = [error for _, _, error in results if error]
        return BatchResult(sizes, cpu, wall, errors)
