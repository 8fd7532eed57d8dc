"""target_score and the in-worker metric, measured: agreement of processing/score.py with the
reference SSIMULACRA2, and the search against the cheapest fixed quality that reaches S.

python -m benchmarks.search_targets --corpus ../shared/corpus/photos/kodak --limit 12
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyvips
from pixpress_server.processing import pipeline, vips
from pixpress_server.processing.model import CompressOptions, ImageFormat, Limits
from pixpress_server.processing.score import EXACT, SAMPLED, Scorer

from benchmarks.quality import ssimulacra2

U8 = npt.NDArray[np.uint8]
LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)
FIXTURE_JPEGS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "jpeg"
_SAVERS = {"jpeg": "jpegsave_buffer", "webp": "webpsave_buffer", "avif": "heifsave_buffer"}
_EXTENSIONS = {"jpeg": ".jpg", "webp": ".webp", "avif": ".avif"}


def _array(pixels: vips.Pixels) -> U8:
    return np.frombuffer(pixels.data, dtype=np.uint8).reshape(
        pixels.height, pixels.width, pixels.bands
    )


def _decoded(data: bytes, image_format: ImageFormat) -> U8:
    return _array(vips.srgb8(vips.load_buffer(data, image_format)))


@dataclass(frozen=True, slots=True)
class Agreement:
    sampling: tuple[int, ...]
    pairs: int
    max_abs: float
    mean_abs: float
    megapixels: float
    reference_cpu_s_per_mp: float
    worker_cpu_s_per_mp: float  # one candidate scored (the source's planes already made)
    worker_setup_cpu_s_per_mp: float  # the source's planes, once per search


def agreement(
    paths: Sequence[Path], qualities: Sequence[int], sampling: Sequence[int]
) -> Agreement:
    """The worker's metric (with `sampling`) against the reference on JPEGs of each image at
    each quality."""
    differences: list[float] = []
    reference_cpu = worker_cpu = setup_cpu = megapixels = 0.0
    for path in paths:
        image = pyvips.Image.new_from_file(str(path))
        source = _decoded(image.pngsave_buffer(compression=1), ImageFormat.PNG)
        started = time.process_time()
        scorer = Scorer(source, sampling)
        setup = time.process_time() - started
        mp = source.shape[0] * source.shape[1] / 1e6
        setup_cpu += setup
        for quality in qualities:
            candidate = _decoded(image.jpegsave_buffer(Q=quality), ImageFormat.JPEG)
            started = time.process_time()
            ours = scorer.score(candidate)
            cpu_ours = time.process_time() - started
            started = time.process_time()
            theirs = ssimulacra2.score(source, candidate)
            cpu_theirs = time.process_time() - started
            differences.append(abs(ours - theirs))
            worker_cpu += cpu_ours
            reference_cpu += cpu_theirs
            megapixels += mp
    setup_mp = megapixels / len(qualities)
    return Agreement(
        sampling=tuple(sampling),
        pairs=len(differences),
        max_abs=max(differences),
        mean_abs=statistics.fmean(differences),
        megapixels=megapixels,
        reference_cpu_s_per_mp=reference_cpu / megapixels,
        worker_cpu_s_per_mp=worker_cpu / megapixels,
        worker_setup_cpu_s_per_mp=setup_cpu / setup_mp,
    )


@dataclass(frozen=True, slots=True)
class ImageRun:
    name: str
    megapixels: float
    search_quality: int
    search_bytes: int
    search_score: float  # reference SSIMULACRA2 of the search's output
    search_cpu: float
    search_encodes: int
    fixed_bytes: int
    fixed_score: float
    fixed_cpu: float


@dataclass(frozen=True, slots=True)
class TargetSummary:
    format: str
    target: float
    images: int
    reached_share: float
    fixed_quality: int
    bytes_saved_vs_fixed: float  # 1 - search bytes / fixed bytes (sums)
    cpu_ratio_median: float  # search CPU / one fixed-quality compression, per image
    encodes_mean: float
    runs: tuple[ImageRun, ...]


def _sources(paths: Sequence[Path], image_format: str, work: Path) -> list[Path]:
    """Each photo as a high-quality source of `image_format` (JPEG fixtures kept as they are)."""
    sources = []
    for path in paths:
        if path.suffix.lower() in (".jpg", ".jpeg") and image_format == "jpeg":
            sources.append(path)
            continue
        image = pyvips.Image.new_from_file(str(path))
        options: dict[str, object] = {"Q": 95}
        if image_format == "avif":
            options |= {"compression": "av1", "effort": 2}
        target = work / (path.stem + _EXTENSIONS[image_format])
        target.write_bytes(bytes(pyvips.Operation.call(_SAVERS[image_format], image, **options)))
        sources.append(target)
    return sources


def _reference_score(source: Path, image_format: ImageFormat, output: Path | None) -> float:
    if output is None:
        return 100.0
    reference = _decoded(source.read_bytes(), image_format)
    return ssimulacra2.score(reference, _decoded(output.read_bytes(), image_format))


@dataclass(frozen=True, slots=True)
class _Done:
    size: int
    output: Path | None  # None: the original was kept
    encodes: int
    quality: int


def _compress(source: Path, out: Path, options: CompressOptions) -> _Done:
    outcome = pipeline.compress(source, out, options, LIMITS)
    encodes = sum(stage.name.startswith("search_") for stage in outcome.stages)
    output = None if outcome.kept_original else out
    return _Done(outcome.output_size, output, encodes, outcome.quality)


def _lowest_passing(source: Path, work: Path, target: float, scorer: Scorer) -> int:
    """Lowest fixed quality whose pipeline output reaches `target` (bisection, worker metric)."""
    low, high = 1, 100
    out = work / ("fixed" + source.suffix)
    fmt = _format_of(source)
    while low < high:
        middle = (low + high) // 2
        output = _compress(source, out, CompressOptions(quality=middle)).output
        score = 100.0 if output is None else scorer.score(_decoded(output.read_bytes(), fmt))
        if score >= target:
            high = middle
        else:
            low = middle + 1
    return low


def _format_of(path: Path) -> ImageFormat:
    return {".jpg": ImageFormat.JPEG, ".webp": ImageFormat.WEBP, ".avif": ImageFormat.AVIF}[
        path.suffix.lower()
    ]


def targets(
    sources: Sequence[Path], target: float, work: Path, label: str, repeats: int
) -> TargetSummary:
    """The search at `target` against the cheapest fixed quality reaching it on every image."""
    lowest: list[int] = []
    for source in sources:
        fmt = _format_of(source)
        scorer = Scorer(_decoded(source.read_bytes(), fmt), EXACT)
        lowest.append(_lowest_passing(source, work, target, scorer))
    fixed_quality = max(lowest)
    runs = []
    for source in sources:
        fmt = _format_of(source)
        searched, fixed = work / ("s" + source.suffix), work / ("f" + source.suffix)
        search_cpu, fixed_cpu = [], []
        for _ in range(repeats):  # interleaved, medians
            search, cpu = _timed(source, searched, CompressOptions(target_score=target))
            search_cpu.append(cpu)
            fixed_run, cpu = _timed(source, fixed, CompressOptions(quality=fixed_quality))
            fixed_cpu.append(cpu)
        image = vips.load(source, fmt)
        runs.append(
            ImageRun(
                name=source.name,
                megapixels=image.width * image.height / 1e6,
                search_quality=search.quality,
                search_bytes=search.size,
                search_score=_reference_score(source, fmt, search.output),
                search_cpu=statistics.median(search_cpu),
                search_encodes=search.encodes,
                fixed_bytes=fixed_run.size,
                fixed_score=_reference_score(source, fmt, fixed_run.output),
                fixed_cpu=statistics.median(fixed_cpu),
            )
        )
    return TargetSummary(
        format=label,
        target=target,
        images=len(runs),
        reached_share=sum(run.search_score >= target for run in runs) / len(runs),
        fixed_quality=fixed_quality,
        bytes_saved_vs_fixed=1
        - sum(r.search_bytes for r in runs) / sum(r.fixed_bytes for r in runs),
        cpu_ratio_median=statistics.median(r.search_cpu / r.fixed_cpu for r in runs),
        encodes_mean=statistics.fmean(r.search_encodes for r in runs),
        runs=tuple(runs),
    )


def _timed(source: Path, out: Path, options: CompressOptions) -> tuple[_Done, float]:
    started = time.process_time()
    result = _compress(source, out, options)
    return result, time.process_time() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_targets")
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus/photos/kodak"))
    parser.add_argument("--limit", type=int, default=12, help="photos from the corpus")
    parser.add_argument("--formats", default="jpeg", help="comma list of jpeg, webp, avif")
    parser.add_argument("--targets", default="70,80")
    parser.add_argument("--agreement-qualities", default="30,50,70,90")
    parser.add_argument("--jpeg-fixtures", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (medians)")
    parser.add_argument("--skip-agreement", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    pipeline.initialise(1)
    photos = sorted(args.corpus.glob("*.png"))[: args.limit]
    if not photos:
        print(f"no PNG photos in {args.corpus}", file=sys.stderr)
        return 2
    fixtures = sorted(FIXTURE_JPEGS.glob("*.jpg")) if args.jpeg_fixtures else []
    report: dict[str, object] = {}
    if not args.skip_agreement:
        qualities = [int(q) for q in args.agreement_qualities.split(",")]
        agreements = []
        for name, sampling in (("exact", EXACT), ("sampled", SAMPLED)):
            found = agreement([*photos, *fixtures], qualities, sampling)
            agreements.append(asdict(found))
            print(
                f"agreement ({name} {sampling}): {found.pairs} pairs, max |diff| "
                f"{found.max_abs:.4f}, mean {found.mean_abs:.4f}; CPU-s/MP per candidate "
                f"{found.worker_cpu_s_per_mp:.3f} (+{found.worker_setup_cpu_s_per_mp:.3f} once "
                f"per source) vs reference {found.reference_cpu_s_per_mp:.3f}"
            )
        report["agreement"] = agreements
    summaries = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        for image_format in args.formats.split(","):
            sources = _sources(
                [*photos, *(fixtures if image_format == "jpeg" else [])], image_format, work
            )
            for target in (float(t) for t in args.targets.split(",")):
                summary = targets(sources, target, work, image_format, args.repeats)
                summaries.append(asdict(summary))
                print(
                    f"{image_format} S={target:g}: {summary.images} images, reached "
                    f"{summary.reached_share:.0%}, fixed q {summary.fixed_quality}, bytes "
                    f"{-summary.bytes_saved_vs_fixed:+.1%} vs fixed, CPU "
                    f"{summary.cpu_ratio_median:.2f}x one fixed-quality compression (median), "
                    f"{summary.encodes_mean:.1f} encodes"
                )
    report["targets"] = summaries
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
