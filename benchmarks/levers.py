"""Encoder levers: bytes at equal mean SSIMULACRA2 (BD-rate) and encode CPU per megapixel.

python -m benchmarks.levers jpeg --qualities 50,60,70,75,80,85,92 --jobs 2
Each image is decoded once into memory; every candidate encodes it at every quality.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mozjpeg_lossless_optimization
import numpy as np
import numpy.typing as npt
import pyjpegli
import pyvips

from benchmarks.quality.ssimulacra2 import score

Encode = Callable[[Any, int], bytes]
"""(a pyvips image in memory, quality) -> encoded bytes."""

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
DEFAULT_IMAGES: tuple[str, ...] = (
    *(f"photos/kodak/kodim{number:02d}.png" for number in (1, 3, 5, 7, 9, 13, 15, 19, 21, 23)),
    "odd/exif-orientation/Landscape_1.jpg",
    "odd/exif-orientation/Portrait_1.jpg",
)
SCORE_LEVELS = (60.0, 70.0, 80.0, 90.0)


def _mozjpeg(**options: object) -> Encode:
    def encode(image: Any, quality: int) -> bytes:
        saved = image.jpegsave_buffer(
            Q=quality, optimize_coding=True, subsample_mode="on", keep="none", **options
        )
        return bytes(saved)

    return encode


_MOZ_ALL = {"trellis_quant": True, "overshoot_deringing": True, "interlace": True}


def _jpegli(image: Any, quality: int) -> bytes:
    return bytes(pyjpegli.encode(image.write_to_memory(), image.width, image.height, quality))


def _jpegli_pass(image: Any, quality: int) -> bytes:
    return bytes(mozjpeg_lossless_optimization.optimize(_jpegli(image, quality)))


def _with_pass(inner: Encode) -> Encode:
    def encode(image: Any, quality: int) -> bytes:
        return bytes(mozjpeg_lossless_optimization.optimize(inner(image, quality)))

    return encode


def _webp(effort: int, smart: bool) -> Encode:
    def encode(image: Any, quality: int) -> bytes:
        return bytes(
            image.webpsave_buffer(Q=quality, effort=effort, smart_subsample=smart, keep="none")
        )

    return encode


def _avif(effort: int) -> Encode:
    def encode(image: Any, quality: int) -> bytes:
        saved = image.heifsave_buffer(Q=quality, effort=effort, compression="av1", keep="none")
        return bytes(saved)

    return encode


# The first candidate of each format is the reference of the BD-rates ("current": what the
# service did before issue 8); "sharp" is sharp's mozjpeg preset (quant table 3, all on).
CANDIDATES: Mapping[str, Mapping[str, Encode]] = {
    "jpeg": {
        "current (moz t0 all)": _mozjpeg(quant_table=0, optimize_scans=True, **_MOZ_ALL),
        "sharp (moz t3 all)": _mozjpeg(quant_table=3, optimize_scans=True, **_MOZ_ALL),
        "moz t3 no scans": _mozjpeg(quant_table=3, **_MOZ_ALL),
        "moz t0 no scans": _mozjpeg(quant_table=0, **_MOZ_ALL),
        "moz t3 no scans+pass": _with_pass(_mozjpeg(quant_table=3, **_MOZ_ALL)),
        "no trellis, baseline": _mozjpeg(quant_table=0),
        "no trellis, progressive (thumbor-like)": _mozjpeg(quant_table=0, interlace=True),
        "jpegli": _jpegli,
        "jpegli+pass": _jpegli_pass,
    },
    "webp": {
        "current (effort 4)": _webp(4, smart=False),
        **{f"effort {effort}": _webp(effort, smart=False) for effort in (0, 1, 2, 3, 5, 6)},
        **{f"effort {effort} smart": _webp(effort, smart=True) for effort in (2, 4, 6)},
    },
    "avif": {
        "current (effort 2)": _avif(2),
        **{f"effort {effort}": _avif(effort) for effort in (0, 1, 3, 4, 6)},
    },
}
_LOADERS = {"jpeg": "jpegload_buffer", "webp": "webpload_buffer", "avif": "heifload_buffer"}


@dataclass(frozen=True, slots=True)
class Sample:
    """One encode: candidate, quality, bytes, SSIMULACRA2 and CPU seconds (median)."""

    candidate: str
    quality: int
    size: int
    score: float
    cpu: float
    megapixels: float


def _rgb(image: Any) -> npt.NDArray[np.uint8]:
    if image.bands == 1:
        image = image.bandjoin([image, image])
    image = image[0:3].cast("uchar")
    shape = (image.height, image.width, 3)
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8, shape=shape)


def measure_image(
    path: str, image_format: str, qualities: Sequence[int], repeats: int
) -> list[Sample]:
    """Every candidate at every quality on one image (candidates interleaved, order rotated)."""
    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    image = pyvips.Image.new_from_file(path).copy_memory()
    if image.bands != 3:
        image = image.colourspace("srgb")[0:3].copy_memory()
    reference = _rgb(image)
    megapixels = image.width * image.height / 1e6
    candidates = list(CANDIDATES[image_format].items())
    samples: list[Sample] = []
    for index, quality in enumerate(qualities):
        rotated = candidates[index % len(candidates) :] + candidates[: index % len(candidates)]
        for name, encode in rotated:
            times = []
            for _ in range(repeats):
                started = time.process_time()
                data = encode(image, quality)
                times.append(time.process_time() - started)
            decoded = pyvips.Operation.call(_LOADERS[image_format], data)
            value = score(reference, _rgb(decoded))
            cpu = statistics.median(times)
            samples.append(Sample(name, quality, len(data), value, cpu, megapixels))
    return samples


@dataclass(frozen=True, slots=True)
class Curve:
    """One candidate over the image set: per quality, total bytes and mean score."""

    name: str
    points: tuple[tuple[float, float], ...]  # (mean score, total bytes), sorted by score
    cpu_per_mp: float


def curves(samples: Sequence[Sample]) -> list[Curve]:
    names = list(dict.fromkeys(sample.candidate for sample in samples))
    result = []
    for name in names:
        own = [sample for sample in samples if sample.candidate == name]
        qualities = sorted({sample.quality for sample in own})
        points = []
        for quality in qualities:
            at = [sample for sample in own if sample.quality == quality]
            points.append((statistics.fmean(s.score for s in at), float(sum(s.size for s in at))))
        cpu = sum(s.cpu for s in own) / sum(s.megapixels for s in own)
        result.append(Curve(name, tuple(sorted(points)), cpu))
    return result


def log_bytes_at(curve: Curve, level: float) -> float | None:
    """log(bytes) at a mean score, linear between measured points (None outside them)."""
    points = curve.points
    if not points or level < points[0][0] or level > points[-1][0]:
        return None
    for (s0, b0), (s1, b1) in itertools.pairwise(points):
        if s0 <= level <= s1:
            t = 0.0 if s1 == s0 else (level - s0) / (s1 - s0)
            return math.log(b0) + t * (math.log(b1) - math.log(b0))
    return math.log(points[-1][1])


def bd_rate(candidate: Curve, reference: Curve, steps: int = 200) -> float | None:
    """Mean byte difference at equal score over the shared score range (-0.1: 10% fewer)."""
    low = max(candidate.points[0][0], reference.points[0][0])
    high = min(candidate.points[-1][0], reference.points[-1][0])
    if high <= low:
        return None
    differences = []
    for step in range(steps + 1):
        level = low + (high - low) * step / steps
        ours, theirs = log_bytes_at(candidate, level), log_bytes_at(reference, level)
        if ours is not None and theirs is not None:
            differences.append(ours - theirs)
    return math.exp(statistics.fmean(differences)) - 1 if differences else None


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def report(found: Sequence[Curve], sharp_name: str | None) -> str:
    """A Markdown table: BD-rates, bytes at the score levels and CPU ratios."""
    reference = found[0]
    sharp = next((curve for curve in found if curve.name == sharp_name), None)
    levels = " | ".join(f"bytes@{level:.0f}" for level in SCORE_LEVELS)
    lines = [
        f"| candidate | BD vs {reference.name} | BD vs sharp | {levels} | CPU-s/MP | CPU x ref |",
        "|---|---|---|" + "---|" * len(SCORE_LEVELS) + "---|---|",
    ]
    for curve in found:
        at = []
        for level in SCORE_LEVELS:
            value = log_bytes_at(curve, level)
            at.append("n/a" if value is None else f"{math.exp(value) / 1000:.0f}k")
        lines.append(
            f"| {curve.name} | {_percent(bd_rate(curve, reference))} | "
            f"{_percent(bd_rate(curve, sharp) if sharp else None)} | {' | '.join(at)} | "
            f"{curve.cpu_per_mp:.4f} | {curve.cpu_per_mp / reference.cpu_per_mp:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.levers", description=__doc__)
    parser.add_argument("format", choices=sorted(CANDIDATES))
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS)
    parser.add_argument("--images", default=",".join(DEFAULT_IMAGES), help="paths in --corpus")
    parser.add_argument("--qualities", default="50,60,70,75,80,85,92")
    parser.add_argument("--repeats", type=int, default=3, help="timed encodes; median kept")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    paths = [str(args.corpus / name) for name in args.images.split(",") if name]
    missing = [path for path in paths if not Path(path).is_file()]
    if missing:
        parser.error(f"missing images: {', '.join(missing)}")
    qualities = [int(value) for value in args.qualities.split(",")]
    samples: list[Sample] = []
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(measure_image, path, args.format, qualities, args.repeats) for path in paths
        ]
        for future in futures:
            samples.extend(future.result())
    print(f"{args.format}: {len(paths)} images, qualities {qualities}, {args.repeats} repeats")
    found = curves(samples)
    for curve in found:
        points = ", ".join(f"{score:.1f}:{size / 1000:.0f}k" for score, size in curve.points)
        print(f"  {curve.name}: {points}")
    sharp = "sharp (moz t3 all)" if args.format == "jpeg" else None
    print(report(found, sharp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
