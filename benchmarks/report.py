"""Write a run's results: one JSON file with every measurement and a Markdown report."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bigimages import BigImageRun, ConcurrentRun
from benchmarks.compression import CompressionRow, ImageScore
from benchmarks.corpus import Corpus
from benchmarks.targets import Target
from benchmarks.throughput import ThroughputRow

MIB = 2**20


@dataclass
class Results:
    """Everything one run measured."""

    environment: dict[str, object]
    settings: dict[str, object]
    corpus: Corpus
    compression: list[CompressionRow]
    scores: list[ImageScore]
    throughput: list[ThroughputRow]
    big_images: list[BigImageRun]
    concurrent: ConcurrentRun | None
    targets: list[Target]
    plots: list[str] = field(default_factory=list)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _with(obj: Any, **extra: Any) -> dict[str, Any]:
    data = dataclasses.asdict(obj)
    data.update(extra)
    return data


def as_json(results: Results) -> dict[str, Any]:
    """The JSON document: sections meta, corpus, compression, throughput, big_images, targets."""
    corpus = results.corpus
    data = {
        "meta": {"environment": results.environment, "settings": results.settings},
        "corpus": {
            "root": str(corpus.root),
            "images": [
                {
                    "name": i.name,
                    "format": i.format,
                    "bytes": i.size,
                    "width": i.width,
                    "height": i.height,
                    "frames": i.frames,
                    "size_class": i.size_class,
                }
                for i in corpus.images
            ],
            "skipped": dict(corpus.skipped),
            "skipped_files": corpus.skipped_files,
        },
        "compression": {
            "rows": [_with(r, ratio=r.ratio) for r in results.compression],
            "images": [dataclasses.asdict(s) for s in results.scores],
        },
        "throughput": [_with(r, mode=str(r.mode)) for r in results.throughput],
        "big_images": {
            "single": [
                _with(r, worker_ratio=r.worker_ratio, tree_ratio=r.tree_ratio)
                for r in results.big_images
            ],
            "concurrent": dataclasses.asdict(results.concurrent) if results.concurrent else None,
        },
        "targets": [dataclasses.asdict(t) for t in results.targets],
        "plots": results.plots,
    }
    return _clean(data)  # type: ignore[no-any-return]


def write_json(results: Results, path: Path) -> Path:
    path.write_text(json.dumps(as_json(results), indent=2) + "\n")
    return path


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _status(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def target_lines(targets: Sequence[Target]) -> list[str]:
    return _table(
        ["target", "goal", "measured", "status"],
        [(t.name, t.goal, t.measured, _status(t.met)) for t in targets],
    )


def compression_lines(rows: Sequence[CompressionRow]) -> list[str]:
    return _table(
        [
            "format",
            "q",
            "encoder",
            "images",
            "input B",
            "output B",
            "ratio",
            "kept",
            "mean SSIMULACRA2",
            "min SSIMULACRA2",
        ],
        [
            (
                r.format,
                r.quality,
                r.encoder,
                r.images,
                r.input_bytes,
                r.output_bytes,
                _fmt(r.ratio, 3),
                r.kept_original,
                _fmt(r.mean_ssimulacra2),
                _fmt(r.min_ssimulacra2),
            )
            for r in rows
        ],
    )


def stage_lines(rows: Sequence[CompressionRow]) -> list[str]:
    ours = [r for r in rows if r.encoder == "pixpress"]
    return _table(
        [
            "format",
            "q",
            "after encode B",
            "after post-pass B",
            "post-pass saved",
            "decode ms",
            "encode ms",
            "post-pass ms",
        ],
        [
            (
                r.format,
                r.quality,
                r.stage_bytes.get("encode", 0),
                r.stage_bytes.get("postpass", 0),
                _fmt(
                    1 - r.stage_bytes.get("postpass", 0) / r.stage_bytes["encode"]
                    if r.stage_bytes.get("encode")
                    else None,
                    3,
                ),
                _fmt(r.stage_milliseconds.get("decode", 0.0), 1),
                _fmt(r.stage_milliseconds.get("encode", 0.0), 1),
                _fmt(r.stage_milliseconds.get("postpass", 0.0), 1),
            )
            for r in ours
        ],
    )


def throughput_lines(rows: Sequence[ThroughputRow]) -> list[str]:
    return _table(
        [
            "mode",
            "images set",
            "workers",
            "concurrency",
            "images",
            "MP",
            "wall s (median)",
            "images/s",
            "MP/s",
            "CPU s/MP",
            "client CPU s",
            "other load (cores)",
            "peak RSS MiB",
            "errors",
        ],
        [
            (
                r.mode,
                r.subset,
                r.workers,
                r.concurrency,
                r.images,
                _fmt(r.megapixels, 1),
                _fmt(r.wall_seconds, 3),
                _fmt(r.images_per_second),
                _fmt(r.megapixels_per_second),
                _fmt(r.cpu_seconds_per_megapixel, 3),
                _fmt(r.client_cpu_seconds),
                _fmt(r.other_load),
                _fmt(r.peak_rss_bytes / MIB, 0),
                r.errors,
            )
            for r in rows
        ],
    )


def latency_lines(rows: Sequence[ThroughputRow]) -> list[str]:
    body = []
    for r in rows:
        if r.subset != "mixed":
            continue
        for size, figures in r.latency_ms.items():
            body.append(
                (
                    r.mode,
                    r.workers,
                    r.concurrency,
                    size,
                    int(figures["n"]),
                    _fmt(figures["p50"]),
                    _fmt(figures["p95"]),
                    _fmt(figures["p99"]),
                )
            )
    return _table(
        ["mode", "workers", "concurrency", "inputs", "n", "p50 ms", "p95 ms", "p99 ms"], body
    )


def big_lines(runs: Sequence[BigImageRun], concurrent: ConcurrentRun | None) -> list[str]:
    lines = _table(
        [
            "image",
            "size",
            "input MiB",
            "output MiB",
            "wall s",
            "estimate MiB",
            "idle worker MiB",
            "peak worker MiB",
            "worker after MiB",
            "peak server MiB",
            "peak tree MiB",
            "worker / estimate",
            "error",
        ],
        [
            (
                r.label,
                f"{r.width}x{r.height}",
                _fmt(r.input_bytes / MIB, 1),
                _fmt(r.output_bytes / MIB, 1),
                _fmt(r.wall_seconds, 1),
                _fmt(r.estimate_bytes / MIB, 0),
                _fmt(r.idle_worker_rss_bytes / MIB, 0),
                _fmt(r.peak_worker_rss_bytes / MIB, 0),
                _fmt(r.after_worker_rss_bytes / MIB, 0),
                _fmt(r.peak_server_rss_bytes / MIB, 0),
                _fmt(r.peak_tree_rss_bytes / MIB, 0),
                _fmt(r.worker_ratio, 3),
                r.error or "",
            )
            for r in runs
        ],
    )
    if concurrent is not None:
        c = concurrent
        lines += [
            f"{c.requests} concurrent {c.label} requests, `--workers {c.workers} "
            f"--memory-budget {c.memory_budget_bytes}` (2 estimates of "
            f"{c.estimate_bytes / MIB:.0f} MiB + 16 MiB): {c.succeeded}/{c.requests} succeeded "
            f"in {c.wall_seconds:.1f} s; peak total worker RSS "
            f"{c.peak_workers_rss_bytes / MIB:.0f} MiB = "
            f"{c.peak_workers_rss_bytes / c.memory_budget_bytes:.3f}x the budget "
            f"(whole server tree {c.peak_tree_rss_bytes / MIB:.0f} MiB).",
            "",
        ]
        lines += [f"- error: {e}" for e in c.errors]
    return lines


def markdown(results: Results) -> str:
    """The Markdown report."""
    env = results.environment
    settings = results.settings
    versions = env.get("versions", {})
    assert isinstance(versions, dict)
    corpus = results.corpus
    lines = [
        "# pixpress benchmark",
        "",
        f"- date: {env['date']}",
        f"- machine: {env['cpu_model']}, {env['usable_cores']} usable cores "
        f"({env['physical_cores']} physical), {int(env['memory_bytes']) // MIB} MiB "  # type: ignore[call-overload]
        f"memory, load average at start {env['load_average_at_start']}",
        f"- platform: {env['platform']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- command: `{settings['command']}`",
        f"- corpus: `{corpus.root}`: {len(corpus.images)} images used, skipped "
        + (", ".join(f"{n} {reason}" for reason, n in sorted(corpus.skipped.items())) or "none"),
        f"- timing: quality {settings['throughput_quality']}, {settings['repeats']} interleaved "
        "repeats per configuration, medians reported; every mode warmed up first",
        "",
        "## Targets",
        "",
        *target_lines(results.targets),
        "## Compression and perceptual quality",
        "",
        "SSIMULACRA2 of each output against its source as displayed (100 = identical; ~90 "
        "visually lossless, 70 high, 50 medium). Pillow rows use the never-larger guard too.",
        "",
        *compression_lines(results.compression),
        "### Per-stage bytes and time (pixpress)",
        "",
        *stage_lines(results.compression),
        "## Throughput",
        "",
        "CPU s/MP counts the processes doing the work (pool workers; the server and its "
        "workers); client CPU is the benchmark process itself; other load is the CPU other "
        "processes on the machine used during the passes, in cores (noise: it steals from the "
        "configurations that need every core).",
        "",
        *throughput_lines(results.throughput),
        "## Latency per input size class",
        "",
        *latency_lines(results.throughput),
    ]
    if results.big_images or results.concurrent:
        lines += ["## Big images (through the service)", ""]
        lines += big_lines(results.big_images, results.concurrent)
    if results.plots:
        lines += ["## Plots", ""]
        lines += [f"![{Path(p).stem}]({Path(p).name})" for p in results.plots]
        lines.append("")
    return "\n".join(lines)


def write_markdown(results: Results, path: Path) -> Path:
    path.write_text(markdown(results))
    return path
