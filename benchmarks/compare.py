"""pixpress against sharp and thumbor: rate-quality, BD-rate, CPU-s/MP and lossless, one run.

python -m benchmarks.compare [--install-peers] [--corpus ../shared/corpus] [--out DIR];
--smoke is a few seconds on one small photo and needs no peers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bigpng import BigPngRun, generate, run_big_png
from benchmarks.compare_inputs import FORMATS, InputImage, build_inputs
from benchmarks.compare_report import cpu_plot, markdown, rate_quality_plot
from benchmarks.compare_targets import evaluate, target_score
from benchmarks.corpus import DEFAULT_CORPUS
from benchmarks.environment import describe
from benchmarks.lossless_bench import LosslessRow, run_lossless
from benchmarks.modes import Mode, PoolRunner, ServiceRunner
from benchmarks.peer_cpu import CpuSample, build_plan, run_cpu
from benchmarks.peers import BatchResult
from benchmarks.peers.install import SHARP_VERSION, THUMBOR_VERSION, install_all
from benchmarks.peers.sharp import SHARP_FORMATS, SharpPeer
from benchmarks.peers.thumbor import ThumborPeer
from benchmarks.ratequality import (
    QUALITIES,
    Compressor,
    EqualScore,
    SweepPoint,
    batch_jobs,
    equal_score_table,
    new_pool,
    pixpress_compressor,
    run_sweep,
)

CPU_QUALITY = 75
SEARCH_TIMEOUT = 1800.0
THUMBOR_SWEEP_FORMATS = frozenset({"jpeg", "webp"})
"""thumbor's quality only changes JPEG and WebP (PNG and GIF are re-saved as they are)."""
COMPARISONS = (
    ("pixpress", "sharp"),
    ("pixpress", "thumbor"),
    ("pixpress effort 1", "thumbor"),
    ("pixpress effort 1", "sharp"),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--photos", type=int, default=4, help="Kodak photos used (spread evenly)")
    parser.add_argument("--qualities", default=",".join(map(str, QUALITIES)))
    parser.add_argument("--repeats", type=int, default=3, help="timed CPU passes (after a warm-up)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench-compare"))
    parser.add_argument("--install-peers", action="store_true", help="npm sharp, pip thumbor")
    parser.add_argument("--peers", default="sharp,thumbor", help="comma list, or 'none'")
    parser.add_argument("--no-big-png", action="store_true")
    parser.add_argument("--big-png-side", type=int, default=8000, help="its width and height")
    parser.add_argument("--no-lossless", action="store_true")
    parser.add_argument("--no-search", action="store_true", help="skip the target_score figures")
    parser.add_argument("--smoke", action="store_true", help="1 small photo, 2 qualities, no peers")
    return parser


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _peer_compressor(peer: SharpPeer | ThumborPeer, workers: int, concurrency: int) -> Compressor:
    def compress(
        image_format: str, images: Sequence[InputImage], quality: int, out: Path
    ) -> dict[str, Path]:
        jobs = batch_jobs(images, image_format, out)
        result: BatchResult
        if isinstance(peer, SharpPeer):
            result = peer.compress(jobs, quality, concurrency=workers)
        else:
            result = peer.compress(jobs, quality, concurrency=concurrency)
        for error in result.errors[:3]:
            _log(f"  {peer.name}: {error}")
        return {job.name: job.output for job in jobs if job.name in result.sizes}

    return compress


def code_version() -> str:
    """The checked-out commit, marked "+changes" when the tree differs from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments], cwd=root, capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+changes" if dirty else commit


def run_search_targets(corpus: Path, out: Path, notes: list[str]) -> list[dict[str, Any]]:
    """`python -m benchmarks.search_targets` on every photo of the corpus
    (compare_inputs.search_photos): JPEG and WebP, S = 70, 80."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.search_targets",
        "--corpus",
        str(corpus),
        "--formats",
        "jpeg,webp",
        "--targets",
        "70,80",
        "--no-jpeg-fixtures",
        "--skip-agreement",
        "--repeats",
        "3",
        "--out",
        str(out),
    ]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=SEARCH_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        notes.append(f"target_score figures: search_targets took over {SEARCH_TIMEOUT:.0f} s")
        return []
    if completed.returncode != 0 or not out.exists():
        notes.append(f"target_score figures failed: {completed.stderr.strip()[-500:]}")
        return []
    notes.append("target_score: " + " ".join(shlex.join(command[1:]).split()))
    summaries: list[dict[str, Any]] = json.loads(out.read_text()).get("targets", [])
    return summaries


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def available_peers(
    wanted: set[str], root: Path, workers: int, notes: list[str]
) -> tuple[SharpPeer | None, ThumborPeer | None]:
    """The wanted peers that can run; each missing one adds a note saying how to install it."""
    sharp: SharpPeer | None = SharpPeer() if "sharp" in wanted else None
    if sharp is not None and (reason := sharp.missing()) is not None:
        notes.append(reason)
        sharp = None
    thumbor = ThumborPeer(root, processes=workers) if "thumbor" in wanted else None
    if thumbor is not None and (reason := thumbor.missing()) is not None:
        notes.append(reason)
        thumbor = None
    notes.extend(f"unknown peer {peer!r} ignored" for peer in sorted(wanted - {"sharp", "thumbor"}))
    return sharp, thumbor


@dataclass
class Measured:
    """Everything one run measured."""

    points: list[SweepPoint] = field(default_factory=list)
    table: list[EqualScore] = field(default_factory=list)
    samples: list[CpuSample] = field(default_factory=list)
    lossless_rows: list[LosslessRow] = field(default_factory=list)
    big: BigPngRun | None = None
    search: list[dict[str, Any]] = field(default_factory=list)
    """benchmarks.search_targets' summaries (target_score against fixed qualities)."""
    notes: list[str] = field(default_factory=list)


def _encoders(
    pool: ProcessPoolExecutor,
    sharp: SharpPeer | None,
    thumbor: ThumborPeer | None,
    args: argparse.Namespace,
) -> dict[str, tuple[Compressor, frozenset[str]]]:
    encoders: dict[str, tuple[Compressor, frozenset[str]]] = {
        "pixpress": (pixpress_compressor(pool), frozenset(FORMATS)),
        "pixpress effort 1": (pixpress_compressor(pool, effort=1), frozenset({"jpeg"})),
    }
    if sharp is not None:
        encoders["sharp"] = (
            _peer_compressor(sharp, args.workers, args.concurrency),
            SHARP_FORMATS & frozenset(FORMATS),
        )
    if thumbor is not None:
        encoders["thumbor"] = (
            _peer_compressor(thumbor, args.workers, args.concurrency),
            THUMBOR_SWEEP_FORMATS,
        )
    return encoders


def measure(
    args: argparse.Namespace,
    inputs: dict[str, list[InputImage]],
    sharp: SharpPeer | None,
    thumbor: ThumborPeer | None,
    scratch: Path,
    measured: Measured,
) -> None:
    """The sweep, the CPU passes, lossless and the big PNG, into `measured`."""
    qualities = [60, 90] if args.smoke else [int(q) for q in args.qualities.split(",")]
    pixpress_pool = new_pool(args.workers, pixpress=True)
    scorer = new_pool(args.workers, pixpress=False)
    pool_runner = PoolRunner(Mode.IN_PROCESS, args.workers, scratch)
    service = ServiceRunner(args.workers, scratch)
    try:
        if thumbor is not None:
            thumbor.__enter__()
        _log("rate-quality sweep")
        encoders = _encoders(pixpress_pool, sharp, thumbor, args)
        measured.points = run_sweep(inputs, encoders, qualities, scratch / "sweep", scorer, _log)
        measured.table = equal_score_table(measured.points, COMPARISONS)
        _log("CPU passes")
        plan = build_plan(
            pool_runner,
            service,
            sharp,
            thumbor,
            CPU_QUALITY,
            args.concurrency,
            scratch / "cpu",
            frozenset(FORMATS),
        )
        measured.notes += plan.notes
        measured.samples = run_cpu(plan, inputs, 1 if args.smoke else args.repeats, _log)
        if not args.smoke and not args.no_lossless:
            _log("lossless")
            subset = {"jpeg": inputs["jpeg"][:4], "png": inputs["png"][:2]}
            measured.lossless_rows = run_lossless(subset, pixpress_pool, scratch / "lossless", _log)
        if not args.smoke and not args.no_search:
            _log("target_score (benchmarks.search_targets)")
            measured.search = run_search_targets(
                args.corpus, scratch / "search.json", measured.notes
            )
        if not args.smoke and not args.no_big_png:
            _log("8000x8000 PNG")
            big_png = generate(inputs["png"][0].path, scratch, args.big_png_side)
            measured.big = run_big_png(service.server, big_png, CPU_QUALITY, args.big_png_side)
    finally:
        if thumbor is not None and thumbor.process is not None:
            thumbor.__exit__(None, None, None)
        service.close()
        pool_runner.close()
        pixpress_pool.shutdown(cancel_futures=True)
        scorer.shutdown(cancel_futures=True)


def write(args: argparse.Namespace, meta: dict[str, Any], measured: Measured) -> None:
    """results.json, report.md and the plots into --out."""
    targets = evaluate(
        measured.table,
        measured.samples,
        measured.big,
        measured.lossless_rows,
        target_score(measured.search),
    )
    subtitle = f"{meta['machine']['cpu_model']}, {meta['machine']['usable_cores']} cores"
    plots = [
        rate_quality_plot(measured.points, args.out / "rate_quality_peers.png", subtitle).name,
        cpu_plot(measured.samples, args.out / "cpu_per_mp.png", subtitle).name,
    ]
    results = {
        "meta": meta,
        "targets": targets,
        "equal_score": measured.table,
        "sweep": measured.points,
        "cpu": [
            {**_jsonable(s), "cpu_per_mp": s.cpu_per_mp, "work_cpu_per_mp": s.work_cpu_per_mp}
            for s in measured.samples
        ],
        "lossless": measured.lossless_rows,
        "big_png": measured.big,
        "target_score": measured.search,
        "notes": measured.notes,
        "plots": plots,
    }
    (args.out / "results.json").write_text(json.dumps(_jsonable(results), indent=1) + "\n")
    report = markdown(
        meta,
        targets,
        measured.table,
        measured.points,
        measured.samples,
        measured.lossless_rows,
        measured.notes,
    )
    (args.out / "report.md").write_text(report)
    _log(f"wrote {args.out / 'report.md'}")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    measured = Measured()
    if args.install_peers:
        for peer, failure in install_all().items():
            _log(f"install {peer}: {failure or 'ready'}")
    wanted = set() if args.smoke or args.peers == "none" else set(args.peers.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pixpress-compare-") as scratch_name:
        scratch = Path(scratch_name)
        count = 1 if args.smoke else args.photos
        shrink = 192 if args.smoke else None
        inputs = build_inputs(args.corpus, scratch / "inputs", count, shrink_to=shrink)
        described = {
            f: f"{len(images)} images, {sum(i.megapixels for i in images):.2f} MP"
            for f, images in inputs.items()
        }
        _log(f"inputs: {described}")
        sharp, thumbor = available_peers(wanted, scratch / "inputs", args.workers, measured.notes)
        for note in measured.notes:
            _log(note)
        measure(args, inputs, sharp, thumbor, scratch, measured)
    meta = {
        "machine": describe(),
        "code": code_version(),
        "command": "python -m benchmarks.compare " + shlex.join(sys.argv[1:]),
        "inputs": (
            f"{described}; Kodak photos from {args.corpus} (PNG sources; JPEG q 95 4:2:0, "
            "WebP q 95 and a 6-frame animated GIF pan made from them), plus camera JPEGs "
            "when the corpus has them; lossless: the first 4 JPEGs and 2 PNGs; target_score: "
            "every Kodak photo, Landscape_1, Portrait_1 and hato as JPEG (4:2:0) and WebP q 95 "
            "sources"
        ),
        "peers": {
            "sharp": f"sharp {SHARP_VERSION}" if sharp is not None else "skipped",
            "thumbor": f"thumbor {THUMBOR_VERSION}" if thumbor is not None else "skipped",
        },
        "qualities": args.qualities,
        "cpu_quality": CPU_QUALITY,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "repeats": args.repeats,
        "wall_seconds": time.perf_counter() - started,
    }
    write(args, meta, measured)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
