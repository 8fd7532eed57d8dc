"""The comparison run's Markdown report and plots (rate-quality per format, CPU-s/MP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.lossless_bench import LosslessRow
from benchmarks.peer_cpu import CpuSample
from benchmarks.plots import save_figure
from benchmarks.ratequality import EqualScore, SweepPoint
from benchmarks.targets import Target

_STYLE = {
    "pixpress": "-o",
    "pixpress effort 1": ":o",
    "sharp": "--s",
    "thumbor": "-.^",
}


def _status(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def target_lines(targets: Sequence[Target]) -> list[str]:
    lines = ["| target | goal | figure | status |", "|---|---|---|---|"]
    lines += [f"| {t.name} | {t.goal} | {t.measured} | {_status(t.met)} |" for t in targets]
    return lines


def _kb(value: float | None) -> str:
    return "—" if value is None else f"{value / 1000:.0f}"


def equal_score_lines(table: Sequence[EqualScore]) -> list[str]:
    lines: list[str] = []
    for row in table:
        scores = sorted({s for per in row.bytes_at.values() for s in per})
        lines += [
            f"**{row.format.upper()}** (inputs {row.input_bytes / 1000:.0f} kB)",
            "",
            "| encoder | " + " | ".join(f"kB at S={s:g}" for s in scores) + " |",
            "|---|" + "---|" * len(scores),
        ]
        for encoder, per in row.bytes_at.items():
            lines.append(f"| {encoder} | " + " | ".join(_kb(per[s]) for s in scores) + " |")
        lines.append("")
        for key, rate in row.bd_rates.items():
            figure = "no overlap" if rate is None else f"{rate * 100:+.1f}%"
            lines.append(f"- BD-rate {key}: {figure}")
        lines.append("")
    return lines


def sweep_lines(points: Sequence[SweepPoint]) -> list[str]:
    lines = [
        "| format | encoder | quality | output / input | mean SSIMULACRA2 |",
        "|---|---|---|---|---|",
    ]
    for p in points:
        ratio = p.output_bytes / p.input_bytes if p.output_bytes else float("nan")
        score = "—" if p.mean_score is None else f"{p.mean_score:.1f}"
        lines.append(f"| {p.format} | {p.encoder} | {p.quality} | {ratio:.3f} | {score} |")
    return lines


def cpu_lines(samples: Sequence[CpuSample]) -> list[str]:
    lines = [
        "| format | runner | MP per pass | CPU-s/MP (work + client) | work only | wall s (median) "
        "| passes | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sorted(samples, key=lambda s: (s.format, s.runner)):
        wall = sorted(s.wall)[len(s.wall) // 2] if s.wall else float("nan")
        lines.append(
            f"| {s.format} | {s.runner} | {s.megapixels:.2f} | {s.cpu_per_mp:.3f} | "
            f"{s.work_cpu_per_mp:.3f} | {wall:.2f} | {len(s.cpu)} | {s.errors} |"
        )
    return lines


def lossless_lines(rows: Sequence[LosslessRow]) -> list[str]:
    lines = [
        "| format | images | input B | tool | output B | pixel mismatches |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        for tool, size in row.bytes.items():
            lines.append(
                f"| {row.format} | {row.images} | {row.input_bytes} | {tool} | {size} | "
                f"{row.pixel_mismatches.get(tool, 0)} |"
            )
        lines.append(
            f"| {row.format} | {row.images} | {row.input_bytes} | best peer per image | "
            f"{row.best_peer_bytes} | |"
        )
    return lines


def rate_quality_plot(points: Sequence[SweepPoint], path: Path, subtitle: str) -> Path:
    """Mean SSIMULACRA2 against bits per pixel, one panel per format, one line per encoder."""
    formats = list(dict.fromkeys(p.format for p in points))
    columns = min(2, max(1, len(formats)))
    rows = (len(formats) + columns - 1) // columns or 1
    figure, grid = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.8 * rows), squeeze=False)
    for axes, image_format in zip(grid.flat, formats, strict=False):
        encoders = dict.fromkeys(p.encoder for p in points if p.format == image_format)
        for encoder in encoders:
            items = sorted(
                (
                    p
                    for p in points
                    if p.format == image_format
                    and p.encoder == encoder
                    and p.mean_score is not None
                ),
                key=lambda p: p.quality,
            )
            axes.plot(
                [p.output_bytes / p.input_bytes for p in items],
                [p.mean_score for p in items],
                _STYLE.get(encoder, "-x"),
                label=encoder,
            )
        axes.set(
            title=image_format.upper(),
            xlabel="output bytes / input bytes",
            ylabel="mean SSIMULACRA2",
        )
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    for axes in list(grid.flat)[len(formats) :]:
        axes.axis("off")
    return save_figure(figure, path, subtitle, "Rate-quality, pixpress and peers (qualities swept)")


def cpu_plot(samples: Sequence[CpuSample], path: Path, subtitle: str) -> Path:
    """CPU-s/MP per format, one bar per runner."""
    formats = list(dict.fromkeys(s.format for s in samples))
    runners = list(dict.fromkeys(s.runner for s in samples))
    figure, axes = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / max(1, len(runners))
    for index, runner in enumerate(runners):
        values = []
        for image_format in formats:
            found = [s for s in samples if s.runner == runner and s.format == image_format]
            values.append(found[0].cpu_per_mp if found else 0.0)
        axes.bar(
            [i + index * width for i in range(len(formats))], values, width=width, label=runner
        )
    axes.set_xticks(
        [i + 0.4 - width / 2 for i in range(len(formats))], [f.upper() for f in formats]
    )
    axes.set(ylabel="CPU-s per MP (median)", title="CPU per megapixel, one run, interleaved")
    axes.set_yscale("log")
    axes.grid(alpha=0.3, axis="y")
    axes.legend(fontsize=7)
    return save_figure(figure, path, subtitle)


def markdown(
    meta: Mapping[str, Any],
    targets: Sequence[Target],
    table: Sequence[EqualScore],
    points: Sequence[SweepPoint],
    samples: Sequence[CpuSample],
    lossless_rows: Sequence[LosslessRow],
    notes: Sequence[str],
) -> str:
    machine = meta["machine"]
    lines = [
        "# pixpress against sharp and thumbor (issue 8)",
        "",
        f"- date: {machine['date']}; {machine['cpu_model']}, {machine['usable_cores']} usable "
        f"cores; load average at start {machine['load_average_at_start']}",
        f"- command: `{meta['command']}`, code `{meta.get('code', 'unknown')}`",
        f"- inputs: {meta['inputs']}",
        f"- peers: {meta['peers']}",
        f"- wall time of the run: {meta.get('wall_seconds', 0):.0f} s",
        "",
        "## How each encoder was run",
        "",
        "- pixpress: the in-process pipeline (`pipeline.compress`, the bytes the service "
        "returns) at the default effort, and at effort 1 for JPEG; a kept original counts "
        "its input bytes and scores 100.",
        "- sharp (Node, `benchmarks/peers/sharp_compress.mjs`, `sharp.concurrency(1)`, "
        "2 images in flight): JPEG `{quality, mozjpeg: true}`, PNG `{palette: true, quality}`, "
        "WebP `{quality}`; GIF has no quality in sharp, so q ≥ 90 reuses the input palette "
        "with `interFrameMaxError` (100 - q) / 2 and lower q sets `reuse: false`, "
        "`colours` 16·2^((q - 50) / 10) (16..256; sharp rounds colours to a bit depth of 4 or "
        "8, so every q < 90 is 16 colours) and `interFrameMaxError` (100 - q) / 5.",
        "- thumbor: its HTTP server (`--processes 2`, file loader, no storage), "
        "`/unsafe/filters:quality(Q)/NAME`, 4 requests in flight; the sweep covers JPEG and "
        "WebP only (thumbor re-saves PNG and GIF without a quality).",
        "- SSIMULACRA2: `benchmarks/quality` against each encoder's input, as displayed.",
        "",
        "## Targets",
        "",
        *target_lines(targets),
        "",
        "## Bytes at equal mean SSIMULACRA2, and BD-rate",
        "",
        "Each encoder's curve is its (mean SSIMULACRA2, total bytes) over the swept qualities,",
        "reduced to its efficient points; bytes at S interpolate log(bytes) linearly in score",
        "(no extrapolation: — when S is outside the sweep). BD-rate is the mean of",
        "log(bytes_test / bytes_reference) over the overlapping score range, exactly integrated",
        "under that linear interpolation, as exp(mean) - 1 (negative: pixpress needs fewer bytes).",
        "",
        *equal_score_lines(table),
        "![rate-quality](rate_quality_peers.png)",
        "",
        "## CPU-s/MP per format",
        "",
        "Median over the interleaved passes (after one warm-up pass). service: the server process",
        "tree + the benchmark's client; in-process: the pool workers; sharp: the Node process from",
        "its first image on (process.cpuUsage, all libvips threads); thumbor: its server tree.",
        "",
        *cpu_lines(samples),
        "",
        "![cpu](cpu_per_mp.png)",
        "",
        "## Lossless (q 100)",
        "",
        *lossless_lines(lossless_rows),
        "",
        "## Sweep",
        "",
        *sweep_lines(points),
        "",
    ]
    if notes:
        lines += ["## Notes", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)
