"""The issue's targets, each evaluated from one run's figures (ratios of medians)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.bigimages import BigImageRun, ConcurrentRun
from benchmarks.compression import CompressionRow
from benchmarks.modes import Mode
from benchmarks.throughput import ThroughputRow, find

SERVICE_RATIO = 0.95
SCALING_RATIO = 1.8
SMALL_LATENCY_MS = 2.0
RSS_RATIO = 1.2
SMALL = "<=50KB"


@dataclass(frozen=True, slots=True)
class Target:
    """One target: what was measured against what was asked; met is None when not measured."""

    name: str
    goal: str
    measured: str
    met: bool | None


def _service_vs_in_process(rows: Sequence[ThroughputRow], workers: int) -> Target:
    name = f"service at concurrency 4 vs in-process, {workers} workers"
    goal = f">= {SERVICE_RATIO}x images/s"
    service = find(rows, Mode.SERVICE, workers, 4)
    limit = find(rows, Mode.IN_PROCESS, workers, 4)
    if service is None or limit is None or not limit.images_per_second:
        return Target(name, goal, "not measured (needs concurrency 4)", None)
    ratio = service.images_per_second / limit.images_per_second
    mp_ratio = service.megapixels_per_second / (limit.megapixels_per_second or 1)
    measured = (
        f"{ratio:.3f}x ({service.images_per_second:.2f} vs {limit.images_per_second:.2f} "
        f"images/s; MP/s {mp_ratio:.3f}x)"
    )
    return Target(name, goal, measured, ratio >= SERVICE_RATIO)


def _scaling(rows: Sequence[ThroughputRow], mode: Mode, concurrency: int, subset: str) -> Target:
    name = f"{mode}: 2 workers vs 1 worker (concurrency {concurrency}, {subset} images)"
    goal = f">= {SCALING_RATIO}x images/s"
    one = find(rows, mode, 1, concurrency, subset)
    two = find(rows, mode, 2, concurrency, subset)
    if one is None or two is None or not one.images_per_second:
        return Target(name, goal, "not measured (needs --workers 1,2)", None)
    ratio = two.images_per_second / one.images_per_second
    measured = f"{ratio:.3f}x ({two.images_per_second:.2f} vs {one.images_per_second:.2f} images/s)"
    return Target(name, goal, measured, ratio >= SCALING_RATIO)


def _small_latency(rows: Sequence[ThroughputRow], workers: int) -> Target:
    name = f"small images (<= 50 KB) p50 latency, concurrency 1, {workers} workers"
    goal = f"service <= in-process + {SMALL_LATENCY_MS:g} ms"
    service = find(rows, Mode.SERVICE, workers, 1)
    limit = find(rows, Mode.IN_PROCESS, workers, 1)
    if (
        service is None
        or limit is None
        or SMALL not in service.latency_ms
        or SMALL not in limit.latency_ms
    ):
        return Target(name, goal, "not measured (needs concurrency 1 and small images)", None)
    ours = service.latency_ms[SMALL]["p50"]
    base = limit.latency_ms[SMALL]["p50"]
    measured = f"+{ours - base:.2f} ms ({ours:.2f} vs {base:.2f} ms)"
    return Target(name, goal, measured, ours <= base + SMALL_LATENCY_MS)


def _rss(run: BigImageRun) -> Target:
    name = f"big image {run.label}: worker peak RSS vs admission estimate"
    goal = f"within {RSS_RATIO}x (1/{RSS_RATIO} .. {RSS_RATIO})"
    if run.error:
        return Target(name, goal, f"failed: {run.error}", False)
    ratio = run.worker_ratio
    measured = (
        f"{ratio:.3f}x ({run.peak_worker_rss_bytes / 2**20:.0f} MiB vs "
        f"{run.estimate_bytes / 2**20:.0f} MiB; server tree {run.tree_ratio:.3f}x)"
    )
    return Target(name, goal, measured, 1 / RSS_RATIO <= ratio <= RSS_RATIO)


def _budget(run: ConcurrentRun) -> Target:
    name = f"{run.requests} concurrent {run.label}: workers' RSS vs --memory-budget"
    goal = "peak total worker RSS <= budget, all succeed"
    peak = run.peak_workers_rss_bytes
    measured = (
        f"{peak / 2**20:.0f} MiB vs {run.memory_budget_bytes / 2**20:.0f} MiB "
        f"({peak / run.memory_budget_bytes:.3f}x), {run.succeeded}/{run.requests} succeeded"
    )
    met = peak <= run.memory_budget_bytes and run.succeeded == run.requests
    return Target(name, goal, measured, met)


def _versus_pillow(rows: Sequence[CompressionRow], image_format: str, quality: int) -> Target:
    name = f"{image_format.upper()} q{quality}: pixpress vs Pillow"
    goal = "fewer bytes at an equal or higher mean SSIMULACRA2"
    ours = next(
        (
            r
            for r in rows
            if (r.format, r.quality, r.encoder) == (image_format, quality, "pixpress")
        ),
        None,
    )
    base = next(
        (r for r in rows if (r.format, r.quality, r.encoder) == (image_format, quality, "pillow")),
        None,
    )
    if (
        ours is None
        or base is None
        or ours.mean_ssimulacra2 is None
        or base.mean_ssimulacra2 is None
    ):
        return Target(name, goal, "not measured", None)
    measured = (
        f"{ours.output_bytes} vs {base.output_bytes} bytes "
        f"({ours.output_bytes / base.output_bytes:.3f}x); SSIMULACRA2 "
        f"{ours.mean_ssimulacra2:.2f} vs {base.mean_ssimulacra2:.2f}"
    )
    met = ours.output_bytes < base.output_bytes and ours.mean_ssimulacra2 >= base.mean_ssimulacra2
    return Target(name, goal, measured, met)


def evaluate(
    throughput: Sequence[ThroughputRow],
    compression: Sequence[CompressionRow],
    big: Sequence[BigImageRun],
    concurrent: ConcurrentRun | None,
    quality: int,
) -> list[Target]:
    """Every target the run has figures for (the others say "not measured")."""
    worker_counts = sorted({row.workers for row in throughput})
    top = worker_counts[-1] if worker_counts else 1
    targets = [_service_vs_in_process(throughput, top)]
    targets += [
        _scaling(throughput, mode, 4, subset)
        for subset in ("cpu-bound", "mixed")
        for mode in (Mode.IN_PROCESS, Mode.SERVICE)
    ]
    targets.append(_small_latency(throughput, top))
    targets += [_rss(run) for run in big]
    if concurrent is not None:
        targets.append(_budget(concurrent))
    targets += [_versus_pillow(compression, fmt, quality) for fmt in ("jpeg", "png")]
    return targets
