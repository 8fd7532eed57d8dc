"""The three ways an image gets compressed: in-process pool, the gRPC service, Pillow.

Each mode runs one timed pass over a list of images at a given concurrency and returns a
PassResult: wall time, CPU seconds of the processes doing the work, per-image latencies,
outcomes and peak RSS.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pixpress import AsyncClient, PixpressError

from benchmarks.baseline import BASELINE_FORMATS, compress_pillow
from benchmarks.corpus import CorpusImage
from benchmarks.measure import (
    RssPeaks,
    RssSampler,
    cpu_delta,
    cpu_seconds,
    own_cpu_seconds,
    system_busy_seconds,
    tree_pids,
)
from benchmarks.server import ServerProcess, start_server
from benchmarks.tasks import TaskOutcome, compress_pixpress, initialise_pixpress


class Mode(StrEnum):
    """How the work is done."""

    IN_PROCESS = "in-process"
    """pixpress's pipeline called directly in N worker processes: the limit."""
    SERVICE = "service"
    """A real pixpress server with --workers N, over gRPC on loopback, one channel."""
    PILLOW = "pillow"
    """The Pillow baseline in N worker processes (JPEG, PNG and WebP only)."""


@dataclass(frozen=True, slots=True)
class Latency:
    name: str
    size_class: str
    seconds: float


@dataclass
class PassResult:
    """One timed pass of one mode over the images."""

    mode: Mode
    workers: int
    concurrency: int
    quality: int
    wall_seconds: float
    cpu_seconds: float
    """CPU of the processes doing the work (pool workers; server + its workers)."""
    client_cpu_seconds: float
    """CPU of the benchmark process itself (the gRPC client for the service)."""
    images: int
    megapixels: float
    latencies: list[Latency]
    outcomes: dict[str, TaskOutcome]
    peak_rss: RssPeaks = field(default_factory=RssPeaks)
    other_cpu_seconds: float = 0.0
    """CPU the rest of the machine used during the pass (other users: noise in the figures)."""
    outputs: dict[str, Path] = field(default_factory=dict)
    """Pool modes: where each image's output was written (absent when kept or failed)."""

    @property
    def images_per_second(self) -> float:
        return self.images / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def megapixels_per_second(self) -> float:
        return self.megapixels / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu_seconds_per_megapixel(self) -> float:
        return self.cpu_seconds / self.megapixels if self.megapixels else 0.0


class Runner(Protocol):
    """A started mode that can run passes; `close` releases its processes."""

    mode: Mode
    workers: int

    def run_pass(
        self, images: Sequence[CorpusImage], quality: int, concurrency: int
    ) -> PassResult: ...

    def close(self) -> None: ...


def _extension(image: CorpusImage) -> str:
    return image.path.suffix or f".{image.format}"


class PoolRunner:
    """In-process pixpress or Pillow in a spawn ProcessPoolExecutor of `workers` processes."""

    def __init__(self, mode: Mode, workers: int, scratch: Path) -> None:
        self.mode = mode
        self.workers = workers
        self.scratch = scratch / f"{mode}-{workers}"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.effort: int | None = None
        """In-process: the effort passes use (None: the default)."""
        initializer = initialise_pixpress if mode is Mode.IN_PROCESS else None
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=initializer,
        )

    def pids(self) -> list[int]:
        processes: dict[int, Any] = getattr(self._executor, "_processes", None) or {}
        return list(processes)

    def images_for(self, images: Sequence[CorpusImage]) -> list[CorpusImage]:
        if self.mode is Mode.PILLOW:
            return [image for image in images if image.format in BASELINE_FORMATS]
        return list(images)

    def output_dir(self, quality: int) -> Path:
        return self.scratch / f"q{quality}"

    def output_path(self, image: CorpusImage, index: int, quality: int) -> Path:
        """Where the pass at `quality` wrote image number `index` (unless kept or failed)."""
        return self.output_dir(quality) / f"{index:05d}{_extension(image)}"

    def _submit(self, image: CorpusImage, index: int, quality: int) -> Future[TaskOutcome]:
        destination = str(self.output_path(image, index, quality))
        if self.mode is Mode.IN_PROCESS:
            return self._executor.submit(
                compress_pixpress, str(image.path), destination, quality, self.effort
            )
        return self._executor.submit(
            compress_pillow, str(image.path), destination, quality, image.format
        )

    def run_pass(self, images: Sequence[CorpusImage], quality: int, concurrency: int) -> PassResult:
        chosen = self.images_for(images)
        output_dir = self.output_dir(quality)
        output_dir.mkdir(exist_ok=True)
        for path in output_dir.iterdir():
            path.unlink()
        latencies: list[Latency] = []
        outcomes: dict[str, TaskOutcome] = {}
        pending: dict[Future[TaskOutcome], tuple[CorpusImage, float]] = {}
        outputs: dict[str, Path] = {}
        queue = list(enumerate(chosen))
        index_of = {image.name: index for index, image in queue}
        queue.reverse()
        cpu_before = cpu_seconds(self.pids())
        client_before = own_cpu_seconds()
        busy_before = system_busy_seconds()
        with RssSampler(root=None, pids=self.pids) as sampler:
            started = time.perf_counter()
            while queue or pending:
                while queue and len(pending) < concurrency:
                    index, image = queue.pop()
                    pending[self._submit(image, index, quality)] = (image, time.perf_counter())
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                now = time.perf_counter()
                for future in done:
                    image, submitted = pending.pop(future)
                    outcome = outcomes[image.name] = future.result()
                    if not outcome.error and not outcome.kept_original:
                        outputs[image.name] = self.output_path(image, index_of[image.name], quality)
                    latencies.append(Latency(image.name, image.size_class, now - submitted))
            wall = time.perf_counter() - started
        cpu = cpu_delta(cpu_before, cpu_seconds(self.pids()))
        client = own_cpu_seconds() - client_before
        other = system_busy_seconds() - busy_before - cpu - client
        return PassResult(
            mode=self.mode,
            workers=self.workers,
            concurrency=concurrency,
            quality=quality,
            wall_seconds=wall,
            cpu_seconds=cpu,
            client_cpu_seconds=client,
            other_cpu_seconds=max(0.0, other),
            images=len(chosen),
            megapixels=sum(image.megapixels for image in chosen),
            latencies=latencies,
            outcomes=outcomes,
            peak_rss=sampler.peaks,
            outputs=outputs,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _service_outcome(result: Any) -> TaskOutcome:
    stages = tuple((s.name, s.output_bytes, s.milliseconds) for s in result.stages)
    return TaskOutcome(result.output_size, result.kept_original, stages)


async def _drive_service(
    server: ServerProcess,
    images: Sequence[CorpusImage],
    sources: Callable[[CorpusImage], bytes | Path],
    quality: int,
    concurrency: int,
    timer: Callable[[], None],
    options: Mapping[str, Any],
) -> tuple[list[Latency], dict[str, TaskOutcome], float]:
    latencies: list[Latency] = []
    outcomes: dict[str, TaskOutcome] = {}
    gate = asyncio.Semaphore(concurrency)
    async with AsyncClient(server.address, api_key=server.api_key, timeout=3600) as client:
        if images:
            # Warm-up on the same channel: connection set-up is not part of the timing.
            await client.compress(sources(images[0]), quality=quality, **options)

        async def one(image: CorpusImage) -> None:
            async with gate:
                started = time.perf_counter()
                try:
                    result = await client.compress(sources(image), quality=quality, **options)
                    outcome = _service_outcome(result)
                except PixpressError as error:
                    outcome = TaskOutcome(0, False, error=f"{error.code.name}: {error.message}")
                latencies.append(
                    Latency(image.name, image.size_class, time.perf_counter() - started)
                )
                outcomes[image.name] = outcome

        timer()
        started = time.perf_counter()
        await asyncio.gather(*(one(image) for image in images))
        wall = time.perf_counter() - started
    return latencies, outcomes, wall


class ServiceRunner:
    """A pixpress server subprocess with --workers N, driven by one AsyncClient channel."""

    mode = Mode.SERVICE

    def __init__(
        self,
        workers: int,
        scratch: Path,
        extra_args: Sequence[str] = (),
        preload: bool = True,
    ) -> None:
        self.workers = workers
        self._data_dir = Path(tempfile.mkdtemp(prefix=f"service-{workers}-", dir=scratch))
        # The per-key rate limit is off: the benchmark measures the engine, and one key
        # sends every request of a pass.
        self.server: ServerProcess = start_server(
            self._data_dir, ["--workers", str(workers), "--rate-limit", "0", *extra_args]
        )
        self._preload = preload
        self._bytes: dict[Path, bytes] = {}
        self.options: dict[str, Any] = {}
        """Extra keyword arguments of every `compress` call (e.g. effort)."""

    def _source(self, image: CorpusImage) -> bytes | Path:
        if not self._preload:
            return image.path
        if image.path not in self._bytes:
            self._bytes[image.path] = image.path.read_bytes()
        return self._bytes[image.path]

    def tree(self) -> list[int]:
        return tree_pids(self.server.pid)

    def run_pass(self, images: Sequence[CorpusImage], quality: int, concurrency: int) -> PassResult:
        for image in images:
            self._source(image)
        snapshots: dict[str, Any] = {}

        def timer() -> None:
            snapshots["cpu"] = cpu_seconds(self.tree())
            snapshots["client"] = own_cpu_seconds()
            snapshots["busy"] = system_busy_seconds()

        with RssSampler(root=self.server.pid) as sampler:
            latencies, outcomes, wall = asyncio.run(
                _drive_service(
                    self.server, images, self._source, quality, concurrency, timer, self.options
                )
            )
            cpu = cpu_delta(snapshots["cpu"], cpu_seconds(self.tree()))
            client = own_cpu_seconds() - snapshots["client"]
            other = system_busy_seconds() - snapshots["busy"] - cpu - client
        return PassResult(
            mode=self.mode,
            workers=self.workers,
            concurrency=concurrency,
            quality=quality,
            wall_seconds=wall,
            cpu_seconds=cpu,
            client_cpu_seconds=client,
            other_cpu_seconds=max(0.0, other),
            images=len(images),
            megapixels=sum(image.megapixels for image in images),
            latencies=latencies,
            outcomes=outcomes,
            peak_rss=sampler.peaks,
        )

    def close(self) -> None:
        self.server.stop()


def cpu_count() -> int:
    """Usable cores (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
