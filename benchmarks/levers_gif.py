"""GIF levers: bytes at equal mean SSIMULACRA2 and encode CPU per megapixel, per candidate.

python -m benchmarks.levers_gif [--corpus ../shared/corpus] [--only NAMES] [--repeats 3];
the inputs are the comparison's GIFs (Kodak photos as 6-frame pans), scored over every frame.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips
from pixpress_server.processing import pipeline
from pixpress_server.processing.encoders import gif
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest
from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import DEFAULT_EFFORT, ImageFormat
from pixpress_server.processing.vips import load

from benchmarks.bdrate import CurvePoint, bd_rate, bytes_at_score
from benchmarks.compare_inputs import build_inputs
from benchmarks.ratequality import EQUAL_SCORES, QUALITIES, score_frames

GIFSICLE = Path(sys.executable).with_name("gifsicle")
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
Encode = Callable[[Path, int], bytes]
"""(source GIF, setting) -> encoded bytes; the setting is the candidate's own knob."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to encode, swept over its own settings (a quality, a --lossy, a bit depth)."""

    name: str
    settings: tuple[int, ...]
    encode: Encode


def _gifsicle(data: bytes, *arguments: str) -> bytes:
    done = subprocess.run(
        [str(GIFSICLE), "--no-warnings", *arguments], input=data, capture_output=True, check=True
    )
    return done.stdout


def _decoded(path: Path) -> Any:
    return pyvips.Image.new_from_file(str(path), n=-1, access="sequential").copy_memory()


def _cgif(path: Path, **options: object) -> bytes:
    return bytes(_decoded(path).gifsave_buffer(keep="icc", **options))


def _sharp(path: Path, quality: int) -> bytes:
    """sharp's settings as benchmarks/peers/sharp_compress.mjs sets them (colours round to a
    bit depth of 4 or 8 there: 16 colours below q 90)."""
    if quality >= 90:
        return _cgif(path, reuse=True, effort=7, interframe_maxerror=(100 - quality) / 2)
    return _cgif(path, reuse=False, bitdepth=4, effort=7, interframe_maxerror=(100 - quality) / 5)


def _pixpress(effort: int) -> Encode:
    def encode(path: Path, quality: int) -> bytes:
        request = EncodeRequest(
            load(path, ImageFormat.GIF),
            path.read_bytes(),
            quality,
            MetadataPolicy(keep_all=False),
            effort,
        )
        encoded = gif.encode(request)
        return encoded.data if isinstance(encoded, Encoded) else path.read_bytes()

    return encode


def _quantised(effort: int, interframe: float = 5.0, **extra: object) -> Encode:
    def encode(path: Path, bitdepth: int) -> bytes:
        return _cgif(
            path,
            reuse=False,
            bitdepth=bitdepth,
            dither=1.0,
            interframe_maxerror=interframe,
            effort=effort,
            **extra,
        )

    return encode


def _lossy(level: int) -> Encode:
    return lambda path, lossy: _gifsicle(path.read_bytes(), f"-O{level}", f"--lossy={lossy}")


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("sharp's settings (in-process)", QUALITIES, _sharp),
    Candidate(
        "old: palette reused, ife (100-q)/5",
        QUALITIES,
        lambda p, q: _cgif(p, reuse=True, dither=1.0, effort=7, interframe_maxerror=(100 - q) / 5),
    ),
    Candidate(f"pixpress effort {DEFAULT_EFFORT}", QUALITIES, _pixpress(DEFAULT_EFFORT)),
    Candidate("pixpress effort 1", QUALITIES, _pixpress(1)),
    Candidate("pixpress effort 10", QUALITIES, _pixpress(10)),
    *(
        Candidate(f"gifsicle -O{lv} --lossy=N", (40, 80, 160, 300, 600), _lossy(lv))
        for lv in (1, 2, 3)
    ),
    *(Candidate(f"cgif bitdepth B, effort {e}", (4, 5, 6, 7), _quantised(e)) for e in (1, 4, 7)),
    Candidate("cgif bitdepth B, effort 7, ife 10", (5, 6), _quantised(7, 10.0)),
    Candidate(
        "cgif bitdepth B, effort 7, interpalette 64",
        (5, 6),
        _quantised(7, interpalette_maxerror=64.0),
    ),
    Candidate(
        "cgif bitdepth B, effort 7, then gifsicle -O3",
        (5, 6),
        lambda p, b: _gifsicle(_quantised(7)(p, b), "-O3"),
    ),
    Candidate(
        "cgif bitdepth B, effort 7, then gifsicle -O2 --lossy=40",
        (5, 6),
        lambda p, b: _gifsicle(_quantised(7)(p, b), "-O2", "--lossy=40"),
    ),
)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Point:
    """One candidate at one setting over every input."""

    candidate: str
    setting: int
    ratio: float
    score: float
    output_bytes: int
    cpu_s_per_mp: float


def sweep(
    candidates: Sequence[Candidate],
    files: Sequence[Path],
    scratch: Path,
    scorer: ProcessPoolExecutor,
    repeats: int,
) -> list[Point]:
    """Every candidate at every setting; CPU is the median of `repeats` interleaved passes."""
    megapixels = sum(_decoded(f).width * _decoded(f).height for f in files) / 1e6
    input_bytes = sum(f.stat().st_size for f in files)
    jobs = [(c, s) for c in candidates for s in c.settings]
    timings: dict[int, list[float]] = {i: [] for i in range(len(jobs))}
    sizes: dict[int, int] = {}
    for repeat in range(repeats):
        for index, (candidate, setting) in enumerate(jobs):
            total = 0
            started = _cpu()
            outputs = [candidate.encode(path, setting) for path in files]
            timings[index].append((_cpu() - started) / megapixels)
            if repeat:
                continue
            for path, output in zip(files, outputs, strict=True):
                kept = output if len(output) < path.stat().st_size else path.read_bytes()
                (scratch / f"{index}-{path.name}").write_bytes(kept)
                total += len(kept)
            sizes[index] = total
    points = []
    for index, (candidate, setting) in enumerate(jobs):
        futures = [
            scorer.submit(score_frames, str(f), str(scratch / f"{index}-{f.name}")) for f in files
        ]
        scores = [future.result() for future in futures]
        valid = [s for s in scores if s is not None]
        point = Point(
            candidate.name,
            setting,
            sizes[index] / input_bytes,
            statistics.fmean(valid) if len(valid) == len(files) else float("nan"),
            sizes[index],
            statistics.median(timings[index]),
        )
        print(
            f"{point.candidate:52s} {setting:4d}: {point.ratio:.3f} of the input at "
            f"S {point.score:5.1f}, {point.cpu_s_per_mp:.3f} CPU-s/MP",
            flush=True,
        )
        points.append(point)
    return points


def summary(points: Sequence[Point], reference: str) -> list[str]:
    """Bytes ratio at equal mean score and BD-rate against `reference`, per candidate."""
    curves: dict[str, list[CurvePoint]] = {}
    for p in points:
        curves.setdefault(p.candidate, []).append(CurvePoint(p.score, p.output_bytes, p.setting))
    input_bytes = points[0].output_bytes / points[0].ratio
    lines = []
    for name, curve in curves.items():
        cells = []
        for target in EQUAL_SCORES:
            value = bytes_at_score(curve, target)
            cells.append(
                f"S{target:.0f} " + ("-" if value is None else f"{value / input_bytes:.3f}")
            )
        rate = bd_rate(curve, curves[reference]) if reference in curves else None
        bd = "-" if rate is None else f"{rate:+.1%}"
        lines.append(f"{name:52s} {', '.join(cells)}; BD-rate vs {reference}: {bd}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.levers_gif", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--only", default="", help="comma-separated substrings of candidates")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved CPU passes")
    parser.add_argument("--jobs", type=int, default=2, help="scoring processes")
    args = parser.parse_args(argv)
    pipeline.initialise(1)
    wanted = [o for o in args.only.split(",") if o]
    candidates = [c for c in CANDIDATES if not wanted or any(o in c.name for o in wanted)]
    reference = CANDIDATES[0].name
    if candidates[0].name != reference:
        candidates.insert(0, CANDIDATES[0])
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="pixpress-levers-gif-") as scratch_name,
        ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as scorer,
    ):
        scratch = Path(scratch_name)
        files = [i.path for i in build_inputs(args.corpus, scratch / "inputs", args.photos)["gif"]]
        points = sweep(candidates, files, scratch, scorer, max(1, args.repeats))
    print("\nbytes (of the input) at equal mean SSIMULACRA2:")
    for line in summary(points, reference):
        print("  " + line)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
