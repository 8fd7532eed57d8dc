"""PNG plots of a run (matplotlib, Agg backend): ratio, rate-quality, throughput, latency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from benchmarks.compression import CompressionRow
from benchmarks.throughput import ThroughputRow

_STYLE = {"pixpress": "-o", "pillow": "--s"}


def save_figure(figure: Figure, path: Path, subtitle: str, title: str | None = None) -> Path:
    """Title it, put the run's subtitle in the corner, write it to `path` and free it."""
    if title is not None:
        figure.suptitle(title)
    figure.text(0.01, 0.005, subtitle, fontsize=6, color="grey")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _by_format(rows: Sequence[CompressionRow]) -> dict[str, dict[str, list[CompressionRow]]]:
    grouped: dict[str, dict[str, list[CompressionRow]]] = defaultdict(lambda: defaultdict(list))
    for row in sorted(rows, key=lambda r: r.quality):
        grouped[row.format][row.encoder].append(row)
    return grouped


def ratio_vs_quality(rows: Sequence[CompressionRow], path: Path, subtitle: str) -> Path:
    """Output/input bytes against quality, one line per format and encoder."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for image_format, encoders in sorted(_by_format(rows).items()):
        for encoder, items in encoders.items():
            axes.plot(
                [r.quality for r in items],
                [r.ratio for r in items],
                _STYLE.get(encoder, "-x"),
                label=f"{image_format} ({encoder})",
            )
    axes.set(xlabel="quality", ylabel="output bytes / input bytes", title="Bytes ratio vs quality")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    return save_figure(figure, path, subtitle)


def rate_quality(rows: Sequence[CompressionRow], path: Path, subtitle: str) -> Path:
    """Mean SSIMULACRA2 against output bytes per format: one panel each, pixpress and Pillow."""
    grouped = _by_format(rows)
    panels = max(1, len(grouped))
    columns = min(3, panels)
    lines = (panels + columns - 1) // columns
    figure, grid = plt.subplots(lines, columns, figsize=(4.2 * columns, 3.4 * lines), squeeze=False)
    for axes, (image_format, encoders) in zip(grid.flat, sorted(grouped.items()), strict=False):
        for encoder, items in encoders.items():
            scored = [r for r in items if r.mean_ssimulacra2 is not None]
            axes.plot(
                [r.output_bytes / 1000 for r in scored],
                [r.mean_ssimulacra2 for r in scored],
                _STYLE.get(encoder, "-x"),
                label=encoder,
            )
            for r in scored:
                axes.annotate(
                    f"q{r.quality}", (r.output_bytes / 1000, r.mean_ssimulacra2), fontsize=6
                )
        axes.set(title=image_format, xlabel="output kB (all images)", ylabel="mean SSIMULACRA2")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    for axes in list(grid.flat)[panels:]:
        axes.axis("off")
    return save_figure(figure, path, subtitle, "Rate-quality: SSIMULACRA2 vs bytes")


def throughput(rows: Sequence[ThroughputRow], path: Path, subtitle: str) -> Path:
    """images/s and MP/s against concurrency, one line per mode and worker count."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series: dict[tuple[str, int], list[ThroughputRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.concurrency):
        if row.subset != "mixed":
            continue
        series[(row.mode, row.workers)].append(row)
    for (mode, workers), items in sorted(series.items()):
        style = {"in-process": "-o", "service": "-s", "pillow": ":^"}.get(mode, "-x")
        label = f"{mode}, {workers} worker{'s' if workers > 1 else ''}"
        xs = [r.concurrency for r in items]
        left.plot(xs, [r.images_per_second for r in items], style, label=label)
        right.plot(xs, [r.megapixels_per_second for r in items], style, label=label)
    for axes, unit in ((left, "images/s"), (right, "MP/s")):
        axes.set(
            xlabel="concurrency (requests in flight)", ylabel=unit, title=f"Throughput ({unit})"
        )
        axes.set_xscale("log", base=2)
        axes.grid(alpha=0.3)
    left.legend(fontsize=7)
    return save_figure(figure, path, subtitle)


def latency(rows: Sequence[ThroughputRow], path: Path, subtitle: str, concurrency: int) -> Path:
    """p50/p95/p99 per size class and mode at one concurrency (most workers)."""
    chosen = [r for r in rows if r.concurrency == concurrency and r.subset == "mixed"]
    top = max((r.workers for r in chosen), default=0)
    chosen = [r for r in chosen if r.workers == top]
    classes = sorted({c for r in chosen for c in r.latency_ms if c != "all"})
    figure, grid = plt.subplots(
        1, max(1, len(classes)), figsize=(4 * max(1, len(classes)), 3.8), squeeze=False
    )
    for axes, size in zip(grid.flat, classes, strict=False):
        width = 0.8 / max(1, len(chosen))
        for index, row in enumerate(chosen):
            figures = row.latency_ms.get(size)
            if not figures:
                continue
            xs = [i + index * width for i in range(3)]
            axes.bar(xs, [figures["p50"], figures["p95"], figures["p99"]], width, label=row.mode)
        axes.set_xticks([i + 0.4 - width / 2 for i in range(3)], ["p50", "p95", "p99"])
        axes.set(title=f"inputs {size}", ylabel="ms")
        axes.grid(alpha=0.3, axis="y")
        axes.legend(fontsize=7)
    return save_figure(
        figure, path, subtitle, f"Latency per size class, concurrency {concurrency}, {top} workers"
    )
