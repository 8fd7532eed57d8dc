"""Issue 8 lossy PNG levers: BD-rate against sharp's settings and encode CPU, per candidate.

python -m benchmarks.levers_png DIR [--qualities 50,65,80,90] [--only NAMES] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import oxipng
import pyvips
from pixpress_server.processing.encoders.png import deflate_palette

from benchmarks.bdrate import CurvePoint, bd_rate
from benchmarks.quality.display import as_displayed
from benchmarks.quality.ssimulacra2 import score

Encode = Callable[[Path, int], bytes]
FILTER_NONE = 0x08
FILTER_ALL = 0xF8


@dataclass(frozen=True, slots=True)
class Palette:
    """One libimagequant + deflate setting: libvips pngsave palette, then oxipng or not."""

    effort: int = 7
    dither: float = 1.0
    compression: int = 6
    filter: int = FILTER_NONE
    oxipng: int | None = None
    deflate: int | None = None  # the encoder's palette pass (libdeflate level), after z 1

    def __call__(self, path: Path, quality: int) -> bytes:
        image = pyvips.Image.new_from_file(str(path), access="sequential")
        data = bytes(
            image.pngsave_buffer(
                palette=True,
                Q=quality,
                effort=self.effort,
                dither=self.dither,
                compression=self.compression,
                filter=self.filter,
            )
        )
        if self.deflate is not None:
            return deflate_palette(data, self.deflate)
        if self.oxipng is None:
            return data
        strip = oxipng.StripChunks.safe()
        return bytes(oxipng.optimize_from_memory(data, level=self.oxipng, strip=strip))


def _pipeline(effort: int) -> Encode:
    """The service's own pipeline (palette acceptance check and post-pass included)."""
    from pixpress_server.processing import pipeline
    from pixpress_server.processing.model import CompressOptions

    from benchmarks.corpus import BENCH_LIMITS

    def encode(path: Path, quality: int) -> bytes:
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "out.png"
            options = CompressOptions(quality=quality, effort=effort)
            outcome = pipeline.compress(path, out, options, BENCH_LIMITS)
            return path.read_bytes() if outcome.kept_original else out.read_bytes()

    return encode


SHARP = "sharp: e7 d1.0 z6"
CANDIDATES: dict[str, Encode] = {
    SHARP: Palette(),
    "pipeline effort 5": _pipeline(5),
    **{f"e7 d{d} z6": Palette(dither=d) for d in (0.0, 0.25, 0.5, 0.75)},
    **{f"e{e} d1.0 z6": Palette(effort=e) for e in (1, 4, 10)},
    "e7 d1.0 z9": Palette(compression=9),
    "e7 d1.0 z6 filter all": Palette(filter=FILTER_ALL),
    **{f"e7 d1.0 z1 oxipng {lv}": Palette(compression=1, oxipng=lv) for lv in (0, 1, 2, 4)},
    **{
        f"e{e} d{d} deflate {lv}": Palette(effort=e, dither=d, compression=1, deflate=lv)
        for e, d, lv in (
            (7, 1.0, 10),
            (6, 1.0, 10),
            (5, 1.0, 10),
            (7, 0.5, 10),
            (6, 0.5, 10),
            (5, 0.5, 10),
            (7, 0.75, 10),
            (6, 0.75, 10),
            (7, 0.25, 10),
            (7, 0.5, 8),
            (10, 0.5, 12),
            (5, 0.0, 10),
            (6, 0.5, 12),
            (7, 0.5, 12),
            (8, 0.5, 12),
        )
    },
    **{f"e{e} d0.0 z6": Palette(effort=e, dither=0.0) for e in (1, 3, 5)},
    "e3 d0.0 deflate 10": Palette(effort=3, dither=0.0, compression=1, deflate=10),
}


_REFERENCES: dict[Path, npt.NDArray[np.uint8]] = {}


def _score(source: Path, output: bytes) -> float:
    if source not in _REFERENCES:
        _REFERENCES[source] = as_displayed(source)
    return score(_REFERENCES[source], as_displayed(output))


@dataclass
class Sweep:
    """One candidate's points, and its encode CPU per repeat (all qualities, all images)."""

    points: list[CurvePoint]
    cpu: list[float]


def run(
    files: Sequence[Path],
    candidates: dict[str, Encode],
    qualities: Sequence[int],
    repeats: int,
) -> dict[str, Sweep]:
    """Every candidate on every image and quality, interleaved; scored once, timed `repeats`."""
    sweeps = {name: Sweep([], [0.0] * repeats) for name in candidates}
    for quality in qualities:
        totals = {name: [0, 0.0] for name in candidates}
        for path in files:
            for repeat in range(repeats):
                for name, encode in candidates.items():
                    before = time.process_time()
                    output = encode(path, quality)
                    sweeps[name].cpu[repeat] += time.process_time() - before
                    if repeat == 0:
                        totals[name][0] += len(output)
                        totals[name][1] += _score(path, output)
        for name, (size, scores) in totals.items():
            point = CurvePoint(float(scores) / len(files), int(size), quality)
            sweeps[name].points.append(point)
            print(f"{name:28s} q{quality:3d} {point.bytes:9d} B  S {point.score:5.1f}", flush=True)
    return sweeps


def report(sweeps: dict[str, Sweep], megapixels: float) -> None:
    """BD-rate and CPU ratio of each candidate against sharp's setting."""
    reference = sweeps[SHARP]
    sharp_cpu = statistics.median(reference.cpu)
    print(f"\n{'candidate':28s} {'BD vs sharp':>11s} {'CPU-s/MP':>9s} {'CPU ratio':>9s}")
    for name, sweep in sweeps.items():
        bd = bd_rate(sweep.points, reference.points)
        cpu = statistics.median(sweep.cpu)
        cells = f"{bd:+11.1%}" if bd is not None else f"{'-':>11s}"
        per_mp = cpu / megapixels
        print(f"{name:28s} {cells} {per_mp:9.3f} {cpu / sharp_cpu:8.2f}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path, help="PNG files (e.g. Kodak photos)")
    parser.add_argument("--qualities", default="50,65,80,90")
    parser.add_argument("--only", default="", help="comma-separated substrings of candidates")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes (median CPU)")
    args = parser.parse_args(argv)
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    only = [o for o in args.only.split(",") if o]
    candidates = {
        k: v for k, v in CANDIDATES.items() if k == SHARP or not only or any(o in k for o in only)
    }
    files = sorted(args.directory.glob("*.png"))
    megapixels = 0.0
    for path in files:
        header = pyvips.Image.new_from_file(str(path))
        megapixels += header.width * header.height / 1e6
    qualities = [int(q) for q in args.qualities.split(",")]
    sweeps = run(files, candidates, qualities, args.repeats)
    report(sweeps, megapixels * len(qualities))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
