"""Timed passes of every mode x workers x concurrency, repeated and interleaved; medians.

Repeats are interleaved (repeat 1 of every configuration, then repeat 2...) so a slow
moment on a shared machine hits all modes alike rather than one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from benchmarks.corpus import CorpusImage
from benchmarks.measure import SIZE_CLASSES, median, percentile
from benchmarks.modes import Mode, PassResult, Runner

PERCENTILES = (50, 95, 99)


@dataclass
class ThroughputRow:
    """Medians over the repeats of one (mode, workers, concurrency)."""

    mode: str
    workers: int
    concurrency: int
    quality: int
    repeats: int
    images: int
    megapixels: float
    wall_seconds: float
    images_per_second: float
    megapixels_per_second: float
    cpu_seconds_per_megapixel: float
    client_cpu_seconds: float
    other_load: float
    """Median cores' worth of CPU used by other processes on the machine during the passes."""
    peak_rss_bytes: int
    """Largest total RSS of the processes doing the work (server + workers, or the pool)."""
    errors: int
    subset: str = "mixed"
    """Which images: "mixed" (the whole corpus) or "cpu-bound" (JPEG and PNG photos)."""
    walls: list[float] = field(default_factory=list)
    other_loads: list[float] = field(default_factory=list)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    """size class (and "all") -> {"p50", "p95", "p99", "n"} over every repeat's samples."""


def _latencies(passes: Sequence[PassResult]) -> dict[str, dict[str, float]]:
    samples: dict[str, list[float]] = defaultdict(list)
    for result in passes:
        for latency in result.latencies:
            samples[latency.size_class].append(latency.seconds * 1000)
            samples["all"].append(latency.seconds * 1000)
    table = {}
    for label in [*(label for label, _ in SIZE_CLASSES), "all"]:
        values = samples.get(label, [])
        if not values:
            continue
        table[label] = {f"p{q}": percentile(values, q) for q in PERCENTILES}
        table[label]["n"] = float(len(values))
    return table


def aggregate(passes: Sequence[PassResult]) -> ThroughputRow:
    """Medians of the passes of one configuration."""
    first = passes[0]
    wall = median(p.wall_seconds for p in passes)
    return ThroughputRow(
        mode=str(first.mode),
        workers=first.workers,
        concurrency=first.concurrency,
        quality=first.quality,
        repeats=len(passes),
        images=first.images,
        megapixels=first.megapixels,
        wall_seconds=wall,
        images_per_second=first.images / wall if wall else 0.0,
        megapixels_per_second=first.megapixels / wall if wall else 0.0,
        cpu_seconds_per_megapixel=median(p.cpu_seconds_per_megapixel for p in passes),
        client_cpu_seconds=median(p.client_cpu_seconds for p in passes),
        other_load=median(p.other_cpu_seconds / p.wall_seconds for p in passes if p.wall_seconds),
        peak_rss_bytes=max(p.peak_rss.total for p in passes),
        errors=sum(1 for p in passes for o in p.outcomes.values() if o.error),
        walls=[p.wall_seconds for p in passes],
        other_loads=[p.other_cpu_seconds / p.wall_seconds for p in passes if p.wall_seconds],
        latency_ms=_latencies(passes),
    )


def run_throughput(
    runners: Mapping[tuple[Mode, int], Runner],
    images: Sequence[CorpusImage],
    quality: int,
    concurrencies: Sequence[int],
    repeats: int,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[ThroughputRow]:
    """Every runner at every concurrency, `repeats` interleaved times; one row each."""
    passes: dict[tuple[Mode, int, int], list[PassResult]] = defaultdict(list)
    worker_counts = sorted({workers for _, workers in runners})
    for _ in range(repeats):
        for workers in worker_counts:
            for concurrency in concurrencies:
                # Modes of one configuration run back to back: the fairest comparison.
                for (mode, runner_workers), runner in runners.items():
                    if runner_workers != workers:
                        continue
                    if progress is not None:
                        progress(f"{mode} workers={workers} concurrency={concurrency}")
                    result = runner.run_pass(images, quality, concurrency)
                    passes[(mode, workers, concurrency)].append(result)
    return [aggregate(results) for _, results in sorted(passes.items())]


def passes_count(runners: int, concurrencies: int, repeats: int) -> int:
    """How many passes run_throughput will run (for a progress bar)."""
    return runners * concurrencies * repeats


def find(
    rows: Sequence[ThroughputRow],
    mode: Mode,
    workers: int,
    concurrency: int,
    subset: str = "mixed",
) -> ThroughputRow | None:
    """The row of one configuration, if it ran."""
    for row in rows:
        if (row.mode, row.workers, row.concurrency, row.subset) == (
            mode,
            workers,
            concurrency,
            subset,
        ):
            return row
    return None
