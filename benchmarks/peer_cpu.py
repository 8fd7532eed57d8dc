"""CPU-s/MP per format for the service, the in-process pipeline and the peers, in one run.

Every repeat runs each runner once per format, back to back (interleaved), at one quality;
medians over the repeats are reported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pixpress import AsyncClient

from benchmarks.compare_inputs import InputImage
from benchmarks.corpus import CorpusImage
from benchmarks.measure import median
from benchmarks.modes import PoolRunner, ServiceRunner
from benchmarks.peers import BatchResult
from benchmarks.peers.sharp import SharpPeer
from benchmarks.peers.thumbor import THUMBOR_FORMATS, ThumborPeer
from benchmarks.ratequality import batch_jobs

LOWEST_EFFORT = 1


def sdk_has_effort() -> bool:
    """Whether this SDK's `compress` takes `effort=` (issue 8)."""
    return "effort" in inspect.signature(AsyncClient.compress).parameters


@dataclass
class CpuSample:
    """One runner's passes over one format: CPU seconds per pass (work, and client)."""

    runner: str
    format: str
    megapixels: float
    cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def cpu_per_mp(self) -> float:
        """Median over the passes of (work + client CPU) / MP."""
        totals = [c + k for c, k in zip(self.cpu, self.client_cpu, strict=True)]
        return median(totals) / self.megapixels if self.megapixels else float("nan")

    @property
    def work_cpu_per_mp(self) -> float:
        return median(self.cpu) / self.megapixels if self.megapixels else float("nan")


def _corpus_images(images: Sequence[InputImage]) -> list[CorpusImage]:
    return [
        CorpusImage(
            image.path,
            image.name,
            image.format,
            image.size,
            image.width,
            image.height,
            image.frames,
        )
        for image in images
    ]


Pass = Callable[[str, Sequence[InputImage]], tuple[float, float, float, int]]
"""(format, images) -> (work CPU s, client CPU s, wall s, errors)."""


def _pool_pass(runner: PoolRunner, quality: int, concurrency: int, effort: int | None) -> Pass:
    def run(image_format: str, images: Sequence[InputImage]) -> tuple[float, float, float, int]:
        runner.effort = effort
        result = runner.run_pass(_corpus_images(images), quality, concurrency)
        errors = sum(1 for outcome in result.outcomes.values() if outcome.error)
        return result.cpu_seconds, 0.0, result.wall_seconds, errors

    return run


def _service_pass(
    runner: ServiceRunner, quality: int, concurrency: int, options: Mapping[str, object]
) -> Pass:
    def run(image_format: str, images: Sequence[InputImage]) -> tuple[float, float, float, int]:
        runner.options = dict(options)
        result = runner.run_pass(_corpus_images(images), quality, concurrency)
        errors = sum(1 for outcome in result.outcomes.values() if outcome.error)
        return result.cpu_seconds, result.client_cpu_seconds, result.wall_seconds, errors

    return run


def _peer_pass(
    compress: Callable[[str, Sequence[InputImage]], BatchResult],
) -> Pass:
    def run(image_format: str, images: Sequence[InputImage]) -> tuple[float, float, float, int]:
        result = compress(image_format, images)
        return result.cpu_seconds, 0.0, result.wall_seconds, len(images) - len(result.sizes)

    return run


@dataclass
class CpuPlan:
    """The runners of one CPU run: name -> (pass, formats it covers)."""

    passes: dict[str, tuple[Pass, frozenset[str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build_plan(
    pool: PoolRunner,
    service: ServiceRunner,
    sharp: SharpPeer | None,
    thumbor: ThumborPeer | None,
    quality: int,
    concurrency: int,
    scratch: Path,
    formats: frozenset[str],
) -> CpuPlan:
    """pixpress (service and in-process, default and lowest effort for JPEG) and the peers."""
    plan = CpuPlan()
    plan.passes["service"] = (_service_pass(service, quality, concurrency, {}), formats)
    plan.passes["in-process"] = (_pool_pass(pool, quality, concurrency, None), formats)
    jpeg = frozenset({"jpeg"}) & formats
    if sdk_has_effort():
        effort_options = {"effort": LOWEST_EFFORT}
        plan.passes["service effort 1"] = (
            _service_pass(service, quality, concurrency, effort_options),
            jpeg,
        )
    else:
        plan.notes.append("service at effort 1 not measured: this SDK has no effort= yet")
    plan.passes["in-process effort 1"] = (
        _pool_pass(pool, quality, concurrency, LOWEST_EFFORT),
        jpeg,
    )
    if sharp is not None:
        peer = sharp

        def sharp_batch(image_format: str, images: Sequence[InputImage]) -> BatchResult:
            jobs = batch_jobs(images, image_format, scratch / "cpu-sharp" / image_format)
            return peer.compress(jobs, quality, concurrency=pool.workers)

        plan.passes["sharp"] = (_peer_pass(sharp_batch), formats)
    if thumbor is not None:
        server = thumbor

        def thumbor_batch(image_format: str, images: Sequence[InputImage]) -> BatchResult:
            jobs = batch_jobs(images, image_format, scratch / "cpu-thumbor" / image_format)
            return server.compress(jobs, quality, concurrency=concurrency)

        plan.passes["thumbor"] = (_peer_pass(thumbor_batch), formats & THUMBOR_FORMATS)
    return plan


def run_cpu(
    plan: CpuPlan,
    inputs: Mapping[str, Sequence[InputImage]],
    repeats: int,
    log: Callable[[str], None],
) -> list[CpuSample]:
    """`repeats` rounds; each runs every runner on every format it covers, interleaved."""
    samples: dict[tuple[str, str], CpuSample] = {}
    for repeat in range(repeats + 1):
        for image_format, images in inputs.items():
            if not images:
                continue
            megapixels = sum(image.megapixels for image in images)
            for name, (run, formats) in plan.passes.items():
                if image_format not in formats:
                    continue
                cpu, client, wall, errors = run(image_format, images)
                if repeat == 0:
                    continue  # warm-up: first imports, caches, connections
                sample = samples.setdefault(
                    (name, image_format), CpuSample(name, image_format, megapixels)
                )
                sample.cpu.append(cpu)
                sample.client_cpu.append(client)
                sample.wall.append(wall)
                sample.errors += errors
        log(f"  cpu pass {repeat}/{repeats} done" + (" (warm-up)" if repeat == 0 else ""))
    return list(samples.values())
