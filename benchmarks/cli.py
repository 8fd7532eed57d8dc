"""The `pixpress-bench` command: parse flags, run every measurement, write the report.

Order: corpus, untimed compression passes (also the warm-up), interleaved timed passes,
SSIMULACRA2 scoring, big images, then JSON + Markdown + plots.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from benchmarks import plots
from benchmarks.baseline import BASELINE_FORMATS
from benchmarks.bigimages import BIG_IMAGES, BigImageRun, ConcurrentRun, run_big_images
from benchmarks.compression import collect_scores, scoring_jobs, summarise
from benchmarks.console import print_results, progress_bar
from benchmarks.corpus import DEFAULT_CORPUS, Corpus, CorpusImage, load_corpus
from benchmarks.environment import describe, usable_cores
from benchmarks.modes import Mode, PassResult, PoolRunner, Runner, ServiceRunner
from benchmarks.report import Results, write_json, write_markdown
from benchmarks.targets import evaluate
from benchmarks.tasks import compress_pixpress
from benchmarks.throughput import passes_count, run_throughput

JSON_NAME = "results.json"
MARKDOWN_NAME = "report.md"
TARGET_QUALITY = 75
SMOKE_IMAGES = 2
CPU_BOUND = frozenset({"jpeg", "png"})
SCALING_CONCURRENCY = 4
SMOKE_MIN_SIDE = 8  # SSIMULACRA2 needs 8x8


def _int_list(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    cores = usable_cores()
    command = argparse.ArgumentParser(
        prog="pixpress-bench",
        description="Throughput, compression ratio and SSIMULACRA2 of pixpress (in-process "
        "pipeline, the gRPC service) beside Pillow, with plots.",
    )
    command.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of images (recursive)"
    )
    command.add_argument("--quality", type=_int_list, default=[75, 90, 100], help="e.g. 75,90,100")
    command.add_argument(
        "--concurrency",
        type=_int_list,
        default=[1, 2, 4, 8],
        help="requests in flight, e.g. 1,2,4,8",
    )
    command.add_argument(
        "--workers",
        type=_int_list,
        default=sorted({1, cores}),
        help=f"worker process counts to compare (default 1,{cores}: 1 and the usable cores)",
    )
    command.add_argument("--repeats", type=int, default=5, help="timed passes per configuration")
    command.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default bench-out; with --smoke a new temporary directory)",
    )
    command.add_argument(
        "--big",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the big-image measurements (default: on, off with --smoke)",
    )
    command.add_argument(
        "--big-dir",
        type=Path,
        default=None,
        help="where to generate (and reuse) the big images (default: a temporary directory)",
    )
    command.add_argument("--limit", type=int, default=None, help="use at most N corpus images")
    command.add_argument(
        "--smoke",
        action="store_true",
        help="2 tiny images, 1 quality, concurrency 1, 1 worker, 1 repeat, no big images",
    )
    return command


def _smoke_images(corpus: Corpus, scratch: Path) -> list[CorpusImage]:
    """The smallest image of each baseline format that compresses, up to SMOKE_IMAGES."""
    candidates = sorted(
        (
            i
            for i in corpus.images
            if i.format in BASELINE_FORMATS
            and min(i.width, i.height) >= SMOKE_MIN_SIDE
            and i.frames == 1
        ),
        key=lambda i: (i.size, i.name),
    )
    chosen: dict[str, CorpusImage] = {}
    for image in candidates:
        if image.format in chosen:
            continue
        outcome = compress_pixpress(str(image.path), str(scratch / "smoke-check"), TARGET_QUALITY)
        if not outcome.error:
            chosen[image.format] = image
        if len(chosen) == SMOKE_IMAGES:
            break
    return list(chosen.values())


def _keep_outputs(result: PassResult, target: Path) -> PassResult:
    """Move a pass's outputs aside so later timed passes cannot overwrite them."""
    target.mkdir(parents=True, exist_ok=True)
    moved = {}
    for name, path in result.outputs.items():
        destination = target / path.name
        shutil.move(path, destination)
        moved[name] = destination
    result.outputs = moved
    return result


def _out_dir(given: Path | None, smoke: bool) -> Path:
    """--out, else bench-out; a smoke run is a check, not a result to keep in the checkout."""
    if given is not None:
        return given
    return Path(tempfile.mkdtemp(prefix="pixpress-bench-smoke-")) if smoke else Path("bench-out")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.smoke:
        args.quality = args.quality[:1] if argv and "--quality" in argv else [TARGET_QUALITY]
        args.concurrency, args.workers, args.repeats = [1], [1], 1
    big = args.big if args.big is not None else not args.smoke
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
    out = _out_dir(args.out, args.smoke)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pixpress-bench-"))
    try:
        return _run(args, big, console, out, scratch, argv)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(  # noqa: PLR0915 (one linear script: each step reads best in order)
    args: argparse.Namespace,
    big: bool,
    console: Console,
    out: Path,
    scratch: Path,
    argv: Sequence[str] | None,
) -> int:
    environment = describe()
    corpus = load_corpus(args.corpus, args.limit)
    if args.smoke:
        corpus.images = _smoke_images(corpus, scratch)
    if not corpus.images:
        console.print(f"[red]no usable images under {args.corpus}")
        return 2
    qualities: list[int] = args.quality
    throughput_quality = TARGET_QUALITY if TARGET_QUALITY in qualities else qualities[0]
    workers: list[int] = args.workers
    top = workers[-1]
    console.print(
        f"corpus {corpus.root}: {len(corpus.images)} images, skipped {dict(corpus.skipped)}; "
        f"{environment['cpu_model']}, {environment['usable_cores']} cores"
    )

    runners: dict[tuple[Mode, int], Runner] = {}
    with progress_bar(console) as progress:
        task = progress.add_task("starting workers and servers", total=None)

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)

        try:
            for count in workers:
                runners[(Mode.IN_PROCESS, count)] = PoolRunner(Mode.IN_PROCESS, count, scratch)
                runners[(Mode.SERVICE, count)] = ServiceRunner(count, scratch)
                runners[(Mode.PILLOW, count)] = PoolRunner(Mode.PILLOW, count, scratch)
            warmups = len(runners) - 2
            total = 2 * len(qualities) + warmups
            total += passes_count(len(runners), len(args.concurrency), args.repeats)
            progress.update(task, total=total)

            # Untimed: the compression table's passes, which also warm up and validate.
            compression: list[tuple[str, PassResult]] = []
            for quality in qualities:
                step(f"compress q{quality} (pixpress, {top} workers)")
                result = runners[(Mode.IN_PROCESS, top)].run_pass(corpus.images, quality, top)
                failed = {
                    n: "failed in the pipeline" for n, o in result.outcomes.items() if o.error
                }
                if failed:
                    corpus.drop(failed)
                compression.append(
                    ("pixpress", _keep_outputs(result, scratch / "kept" / f"pixpress-q{quality}"))
                )
                step(f"compress q{quality} (Pillow, {top} workers)")
                result = runners[(Mode.PILLOW, top)].run_pass(corpus.images, quality, top)
                compression.append(
                    ("pillow", _keep_outputs(result, scratch / "kept" / f"pillow-q{quality}"))
                )
            for key, runner in runners.items():
                if key in {(Mode.IN_PROCESS, top), (Mode.PILLOW, top)}:
                    continue
                step(f"warm up {key[0]} ({key[1]} workers)")
                runner.run_pass(corpus.images, throughput_quality, 2 * key[1])

            throughput = run_throughput(
                runners,
                corpus.images,
                throughput_quality,
                args.concurrency,
                args.repeats,
                progress=lambda text: step(f"timed: {text}"),
            )
            # Worker scaling on CPU-bound photos alone: the mixed corpus has one long AVIF
            # encode that bounds any pass's wall time from below.
            cpu_bound = [i for i in corpus.images if i.format in CPU_BOUND and i.megapixels >= 0.25]
            if len(workers) > 1 and cpu_bound:
                scaling = {k: r for k, r in runners.items() if k[0] is not Mode.PILLOW}
                progress.update(
                    task, total=(progress.tasks[0].total or 0) + len(scaling) * args.repeats
                )
                extra = run_throughput(
                    scaling,
                    cpu_bound,
                    throughput_quality,
                    [SCALING_CONCURRENCY],
                    args.repeats,
                    progress=lambda text: step(f"timed (cpu-bound): {text}"),
                )
                for row in extra:
                    row.subset = "cpu-bound"
                throughput += extra
        finally:
            for runner in runners.values():
                runner.close()

        for _, result in compression:
            result.outcomes = {
                n: o for n, o in result.outcomes.items() if n in {i.name for i in corpus.images}
            }
        progress.update(
            task,
            description="SSIMULACRA2",
            total=(progress.tasks[0].total or 0) + scoring_jobs(compression),
        )
        scores = collect_scores(
            corpus.images,
            compression,
            usable_cores(),
            progress=lambda: progress.update(task, advance=1),
        )
        rows = summarise(scores)

        big_runs: list[BigImageRun] = []
        concurrent: ConcurrentRun | None = None
        if big:
            big_dir = args.big_dir or scratch / "big"
            big_dir.mkdir(parents=True, exist_ok=True)
            # generate and compress each image, then the concurrent run
            progress.update(task, total=(progress.tasks[0].total or 0) + 2 * len(BIG_IMAGES) + 1)
            big_runs, concurrent = run_big_images(
                big_dir, scratch, throughput_quality, progress=step
            )
        progress.update(task, description="done")

    targets = evaluate(throughput, rows, big_runs, concurrent, throughput_quality)
    settings: dict[str, object] = {
        "command": shlex.join(["pixpress-bench", *(argv if argv is not None else sys.argv[1:])]),
        "qualities": qualities,
        "throughput_quality": throughput_quality,
        "concurrency": args.concurrency,
        "workers": workers,
        "repeats": args.repeats,
        "smoke": args.smoke,
        "big": big,
    }
    results = Results(
        environment=environment,
        settings=settings,
        corpus=corpus,
        compression=rows,
        scores=scores,
        throughput=throughput,
        big_images=big_runs,
        concurrent=concurrent,
        targets=targets,
    )
    subtitle = (
        f"{str(environment['date'])[:10]} · {environment['cpu_model']} · "
        f"{environment['usable_cores']} cores · corpus {corpus.root.name} "
        f"({len(corpus.images)} images)"
    )
    results.plots = [
        str(plots.ratio_vs_quality(rows, out / "ratio_vs_quality.png", subtitle)),
        str(plots.rate_quality(rows, out / "rate_quality.png", subtitle)),
        str(plots.throughput(throughput, out / "throughput.png", subtitle)),
        str(plots.latency(throughput, out / "latency.png", subtitle, min(args.concurrency))),
    ]
    write_json(results, out / JSON_NAME)
    write_markdown(results, out / MARKDOWN_NAME)
    print_results(console, results)
    console.print(f"wrote {out / JSON_NAME}, {out / MARKDOWN_NAME} and {len(results.plots)} plots")
    return 0
