"""target_score and the in-worker metric, measured: agreement of processing/score.py with the
reference SSIMULACRA2, and the search against the cheapest fixed quality that reaches S.

python -m benchmarks.search_targets --corpus ../shared/corpus --formats jpeg,webp
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyvips
from pixpress_server.processing import pipeline, vips
from pixpress_server.processing.model import CompressOptions, ImageFormat, Limits
from pixpress_server.processing.score import EXACT, SAMPLED, Scorer

from benchmarks.compare_inputs import search_photos
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
    own_quality: int  # the lowest fixed quality that brings this image to S
    own_bytes: int  # its output there: what a perfect per-image search would give
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
    own_qualities: tuple[int, int, int]  # min, median, max of the images' own lowest quality
    bytes_saved_vs_fixed: float  # 1 - search bytes / fixed bytes (sums)
    own_saved_vs_fixed: float  # the same for each image at its own lowest quality (the bound)
    cpu_ratio_median: float  # search CPU / one fixed-quality compression, per image
    encodes_mean: float
    runs: tuple[ImageRun, ...]


def _sources(
    paths: Sequence[Path], image_format: str, work: Path, kept: Sequence[Path] = ()
) -> list[Path]:
    """Each photo as a q 95 source of `image_format` (JPEG 4:2:0, as cameras and the comparison
    inputs; libvips' default is 4:4:4 from Q 90); JPEGs in `kept` are used as they are."""
    sources = []
    for path in paths:
        if path in kept and image_format == "jpeg":
            sources.append(path)
            continue
        image = pyvips.Image.new_from_file(str(path)).autorot()
        options: dict[str, object] = {"Q": 95}
        if image_format == "jpeg":
            options |= {"subsample_mode": "on"}
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


def _format_of(path: Path) -> ImageFormat:
    return {".jpg": ImageFormat.JPEG, ".webp": ImageFormat.WEBP, ".avif": ImageFormat.AVIF}[
        path.suffix.lower()
    ]


@dataclass(slots=True)
class _FixedCurve:
    """One source's fixed-quality outputs, (bytes, exact score) per quality, made on demand
    and shared by the targets."""

    source: Path
    work: Path
    points: dict[int, tuple[int, float]]
    _scorer: Scorer | None = None

    def __call__(self, quality: int) -> tuple[int, float]:
        if quality not in self.points:
            fmt = _format_of(self.source)
            if self._scorer is None:
                self._scorer = Scorer(_decoded(self.source.read_bytes(), fmt), EXACT)
            out = self.work / ("fixed" + self.source.suffix)
            done = _compress(self.source, out, CompressOptions(quality=quality))
            score = 100.0
            if done.output is not None:
                score = self._scorer.score(_decoded(done.output.read_bytes(), fmt))
            self.points[quality] = (done.size, score)
        return self.points[quality]

    def lowest_passing(self, target: float, hint: int) -> int:
        """Lowest fixed quality whose pipeline output reaches `target` (exact worker metric)."""
        return lowest_passing(lambda quality: self(quality)[1] >= target, hint)


def lowest_passing(passes: Callable[[int], bool], hint: int) -> int:
    """The lowest quality in 1..100 that `passes` (monotone), 100 if none: from `hint` (the
    search's choice), steps of 1, 2, 4, ... until the other side, then bisection; 2-4 calls
    where a bisection of 1..100 takes 7."""
    hint_passes = passes(hint)
    step, near = 1, hint
    while True:
        far = max(1, min(100, near + (-step if hint_passes else step)))
        if far == near or passes(far) != hint_passes:
            break
        near, step = far, step * 2
    if far == near:  # the end of the scale: 1 passes, or 100 does not
        return near if hint_passes else 100
    low, high = (far, near) if hint_passes else (near, far)  # low fails, high passes
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if passes(middle) else (middle, high)
    return high


def targets(
    curves: Sequence[_FixedCurve], target: float, work: Path, label: str, repeats: int
) -> TargetSummary:
    """The search at `target` against the cheapest fixed quality reaching it on every image."""
    searches = [
        _compress(
            curve.source, work / ("s" + curve.source.suffix), CompressOptions(target_score=target)
        )
        for curve in curves
    ]
    lowest = [
        curve.lowest_passing(target, search.quality)
        for curve, search in zip(curves, searches, strict=True)
    ]
    fixed_quality = max(lowest)
    runs = []
    for curve, own in zip(curves, lowest, strict=True):
        source = curve.source
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
                own_quality=own,
                own_bytes=curve(own)[0],
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
        own_qualities=(min(lowest), round(statistics.median(lowest)), max(lowest)),
        bytes_saved_vs_fixed=1
        - sum(r.search_bytes for r in runs) / sum(r.fixed_bytes for r in runs),
        own_saved_vs_fixed=1 - sum(r.own_bytes for r in runs) / sum(r.fixed_bytes for r in runs),
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
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path("../shared/corpus"),
        help="every Kodak PNG, one copy of each exif-orientation photo and hato (AVIF) in it",
    )
    parser.add_argument("--limit", type=int, default=None, help="the first N photos only")
    parser.add_argument("--formats", default="jpeg", help="comma list of jpeg, webp, avif")
    parser.add_argument("--targets", default="70,80")
    parser.add_argument("--agreement-qualities", default="30,50,70,90")
    parser.add_argument("--jpeg-fixtures", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (medians)")
    parser.add_argument("--skip-agreement", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    pipeline.initialise(1)
    photos = search_photos(args.corpus)[: args.limit]
    if not photos:
        print(f"no photos in {args.corpus}", file=sys.stderr)
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
                [*photos, *(fixtures if image_format == "jpeg" else [])],
                image_format,
                work,
                kept=fixtures,
            )
            curves = [_FixedCurve(source, work, {}) for source in sources]
            for target in (float(t) for t in args.targets.split(",")):
                summary = targets(curves, target, work, image_format, args.repeats)
                summaries.append(asdict(summary))
                print(
                    f"{image_format} S={target:g}: {summary.images} images, reached "
                    f"{summary.reached_share:.0%}, fixed q {summary.fixed_quality} (images' own: "
                    "min/median/max {}/{}/{}), bytes ".format(*summary.own_qualities)
                    + f"{-summary.bytes_saved_vs_fixed:+.1%} vs fixed (each at its own lowest q: "
                    f"{-summary.own_saved_vs_fixed:+.1%}), CPU "
                    f"{summary.cpu_ratio_median:.2f}x one fixed-quality compression (median), "
                    f"{summary.encodes_mean:.1f} encodes"
                )
    report["targets"] = summaries
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
