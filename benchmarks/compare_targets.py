"""Issue 8's targets, evaluated from one comparison run (ratios of medians, BD-rates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.bigpng import BigPngRun
from benchmarks.lossless_bench import LosslessRow
from benchmarks.peer_cpu import CpuSample
from benchmarks.ratequality import EqualScore
from benchmarks.targets import Target

BD_RATE_VS_SHARP = -0.10
CPU_VS_SHARP = 1.0
LOW_EFFORT_CPU_VS_THUMBOR = 1.2
LOW_EFFORT_BD_RATE_VS_THUMBOR = -0.05
SERVICE_VS_IN_PROCESS = 1.10
BIG_PNG_SECONDS = 30.0
FORMATS = ("jpeg", "png", "webp", "gif")


def _sample(samples: Sequence[CpuSample], runner: str, image_format: str) -> CpuSample | None:
    for sample in samples:
        if sample.runner == runner and sample.format == image_format:
            return sample
    return None


def _rate(table: Sequence[EqualScore], image_format: str, key: str) -> float | None:
    for row in table:
        if row.format == image_format:
            return row.bd_rates.get(key)
    return None


def _percent(value: float | None) -> str:
    return "not measured" if value is None else f"{value * 100:+.1f}%"


def _no_rate(table: Sequence[EqualScore], image_format: str, key: str) -> str:
    if not any(row.format == image_format and key in row.bd_rates for row in table):
        return "not measured"
    return "no BD-rate: the curves share no score range (one of them is a single point)"


def bd_rate_vs_sharp(table: Sequence[EqualScore]) -> list[Target]:
    targets = []
    for image_format in FORMATS:
        key = "pixpress vs sharp"
        rate = _rate(table, image_format, key)
        targets.append(
            Target(
                f"BD-rate vs sharp, {image_format.upper()}",
                f"≤ {BD_RATE_VS_SHARP * 100:.0f}%",
                _no_rate(table, image_format, key) if rate is None else _percent(rate),
                None if rate is None else rate <= BD_RATE_VS_SHARP,
            )
        )
    return targets


def cpu_vs_sharp(samples: Sequence[CpuSample]) -> list[Target]:
    targets = []
    for image_format in FORMATS:
        service = _sample(samples, "service", image_format)
        sharp = _sample(samples, "sharp", image_format)
        if service is None or sharp is None:
            targets.append(
                Target(
                    f"service CPU-s/MP vs sharp, {image_format.upper()}",
                    "≤ 1.0x",
                    "not measured",
                    None,
                )
            )
            continue
        ratio = service.cpu_per_mp / sharp.cpu_per_mp
        targets.append(
            Target(
                f"service CPU-s/MP vs sharp, {image_format.upper()}",
                f"≤ {CPU_VS_SHARP:.1f}x",
                f"{ratio:.2f}x ({service.cpu_per_mp:.3f} vs {sharp.cpu_per_mp:.3f}; "
                "server tree + client vs node)",
                ratio <= CPU_VS_SHARP,
            )
        )
    return targets


def lowest_effort_vs_thumbor(
    samples: Sequence[CpuSample], table: Sequence[EqualScore]
) -> list[Target]:
    thumbor = _sample(samples, "thumbor", "jpeg")
    low = _sample(samples, "service effort 1", "jpeg")
    where = "service server tree"
    if low is None:
        low = _sample(samples, "in-process effort 1", "jpeg")
        where = "in-process workers (the SDK had no effort=)"
    if thumbor is None or low is None:
        cpu = Target("lowest effort JPEG, CPU-s/MP vs thumbor", "≤ 1.2x", "not measured", None)
    else:
        ratio = low.work_cpu_per_mp / thumbor.work_cpu_per_mp
        cpu = Target(
            "lowest effort JPEG, CPU-s/MP vs thumbor",
            f"≤ {LOW_EFFORT_CPU_VS_THUMBOR:.1f}x",
            f"{ratio:.2f}x ({low.work_cpu_per_mp:.3f} vs {thumbor.work_cpu_per_mp:.3f}; "
            f"{where} vs thumbor's server tree)",
            ratio <= LOW_EFFORT_CPU_VS_THUMBOR,
        )
    rate = _rate(table, "jpeg", "pixpress effort 1 vs thumbor")
    bd = Target(
        "lowest effort JPEG, BD-rate vs thumbor",
        f"≤ {LOW_EFFORT_BD_RATE_VS_THUMBOR * 100:.0f}%",
        _percent(rate),
        None if rate is None else rate <= LOW_EFFORT_BD_RATE_VS_THUMBOR,
    )
    return [cpu, bd]


def service_vs_in_process(samples: Sequence[CpuSample]) -> Target:
    pairs = [
        (service, pool)
        for image_format in FORMATS
        if (service := _sample(samples, "service", image_format)) is not None
        and (pool := _sample(samples, "in-process", image_format)) is not None
    ]
    if not pairs:
        return Target("service CPU-s/MP vs in-process", "≤ 1.10x", "not measured", None)
    service_cpu = sum(s.cpu_per_mp * s.megapixels for s, _ in pairs)
    pool_cpu = sum(p.cpu_per_mp * p.megapixels for _, p in pairs)
    per_format = ", ".join(
        f"{s.format} {s.cpu_per_mp / p.cpu_per_mp:.2f}x" for s, p in pairs if p.cpu_per_mp
    )
    ratio = service_cpu / pool_cpu
    return Target(
        "service CPU-s/MP vs in-process pipeline (all formats, same images)",
        f"≤ {SERVICE_VS_IN_PROCESS:.2f}x",
        f"{ratio:.3f}x ({per_format}; server tree + client vs pool workers)",
        ratio <= SERVICE_VS_IN_PROCESS,
    )


def big_png(run: BigPngRun | None) -> Target:
    if run is None:
        return Target("8000x8000 photo PNG, default effort", "≤ 30 s", "not measured", None)
    if run.error:
        return Target(
            "8000x8000 photo PNG, default effort", "≤ 30 s", f"failed: {run.error}", False
        )
    return Target(
        f"{run.side}x{run.side} photo PNG, default effort (service, 1 request)",
        f"≤ {BIG_PNG_SECONDS:.0f} s",
        f"{run.wall_seconds:.1f} s wall, {run.server_cpu_seconds:.1f} CPU-s "
        f"({run.output_bytes / run.input_bytes:.3f} of the input)",
        run.wall_seconds <= BIG_PNG_SECONDS,
    )


def lossless(rows: Sequence[LosslessRow]) -> list[Target]:
    targets = []
    for row in rows:
        ratio = row.pixpress_vs_best
        mismatches = sum(row.pixel_mismatches.values())
        tools = ", ".join(f"{tool} {size}" for tool, size in row.bytes.items())
        targets.append(
            Target(
                f"lossless q 100, {row.format.upper()} ({row.images} images)",
                "bytes ≤ min(jpegtran, oxipng, zopflipng), pixels identical",
                "not measured"
                if ratio is None
                else f"{ratio:.3f}x the best peer per image ({tools} B); "
                f"pixel mismatches: {row.pixel_mismatches}",
                None if ratio is None else ratio <= 1.0 and mismatches == 0,
            )
        )
    return targets


def evaluate(
    table: Sequence[EqualScore],
    samples: Sequence[CpuSample],
    big: BigPngRun | None,
    lossless_rows: Sequence[LosslessRow],
    extra: Sequence[Target] = (),
) -> list[Target]:
    return [
        *bd_rate_vs_sharp(table),
        *cpu_vs_sharp(samples),
        *lowest_effort_vs_thumbor(samples, table),
        service_vs_in_process(samples),
        big_png(big),
        *extra,
        *lossless(lossless_rows),
    ]


SEARCH_REACHED_SHARE = 0.95
SEARCH_BYTES_SAVED = 0.30
SEARCH_CPU_RATIO = 4.0


def target_score(summaries: Sequence[Mapping[str, Any]]) -> list[Target]:
    """From benchmarks.search_targets' JSON: one target per format and score S."""
    targets = []
    for summary in summaries:
        reached = float(summary["reached_share"])
        saved = float(summary["bytes_saved_vs_fixed"])
        cpu = float(summary["cpu_ratio_median"])
        targets.append(
            Target(
                f"target_score={float(summary['target']):g}, {str(summary['format']).upper()} "
                f"({summary['images']} images)",
                f"≥ {SEARCH_REACHED_SHARE:.0%} reach S, ≥ {SEARCH_BYTES_SAVED:.0%} fewer bytes "
                f"than the cheapest fixed quality, CPU ≤ {SEARCH_CPU_RATIO:g}x",
                f"{reached:.0%} reach S; search bytes {-saved:+.1%} vs fixed q "
                f"{summary['fixed_quality']}; CPU {cpu:.2f}x one fixed-quality compression "
                f"(median); {float(summary['encodes_mean']):.1f} encodes",
                reached >= SEARCH_REACHED_SHARE
                and saved >= SEARCH_BYTES_SAVED
                and cpu <= SEARCH_CPU_RATIO,
            )
        )
    return targets
