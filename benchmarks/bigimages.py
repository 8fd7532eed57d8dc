"""Big images through the service: wall time and peak RSS beside the admission estimate.

The images are generated into a temporary directory, never committed: from a real photo
(kodim23, enlarged with a little noise so they do not compress absurdly well), or a smooth
16-bit RGBA gradient (a few MB for 268 MP, gigabytes decoded).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyvips
from pixpress import AsyncClient, PixpressError
from pixpress_server.processing import pipeline
from pixpress_server.processing.memory import estimate_memory

from benchmarks.corpus import BENCH_LIMITS, DEFAULT_CORPUS
from benchmarks.measure import MIB, RssSampler
from benchmarks.server import ServerProcess, start_server

SOURCE_PHOTO = DEFAULT_CORPUS / "png" / "kodim23.png"


@dataclass(frozen=True, slots=True)
class BigImageSpec:
    """One generated image: format, megapixels and how it is saved."""

    label: str
    format: str
    megapixels: float
    save_options: dict[str, Any] = field(default_factory=dict)
    noise_sigma: float = 3.0
    smooth_rgba16: bool = False
    """A 16-bit RGBA gradient instead of the photo (side rounded to the max-pixels limit)."""
    orientation: int = 1
    """EXIF orientation written with the image (PNG: an eXIf chunk)."""


# 16383 x 16383, the default --max-pixels
_MAX_SIDE = 16383
SMOOTH_16BIT_LABEL = "268 MP PNG 16-bit RGBA smooth"
BIG_IMAGES: tuple[BigImageSpec, ...] = (
    # Camera-like: q 90 with 4:2:0 chroma.
    BigImageSpec("200 MP JPEG q90 4:2:0", "jpeg", 200, {"Q": 90, "subsample_mode": "on"}),
    BigImageSpec("50 MP PNG RGB", "png", 50, {"compression": 6}, noise_sigma=2.0),
    # The other JPEG path: full-resolution chroma (what libvips writes at q >= 90).
    BigImageSpec("50 MP JPEG q92 4:4:4", "jpeg", 50, {"Q": 92, "subsample_mode": "off"}),
    # 8 bytes per decoded pixel: the PNG estimate must scale with bit depth and bands.
    BigImageSpec(
        SMOOTH_16BIT_LABEL,
        "png",
        _MAX_SIDE**2 / 1e6,
        {"compression": 6, "filter": "all"},
        smooth_rgba16=True,
    ),
    # A phone photo saved as PNG: the pipeline turns the pixels upright (a decoded copy).
    BigImageSpec(
        "50 MP PNG RGB rotated (EXIF 6)",
        "png",
        50,
        {"compression": 6},
        noise_sigma=2.0,
        orientation=6,
    ),
)
CONCURRENT_LABEL = "50 MP PNG RGB"


def _smooth_rgba16(side: int) -> pyvips.Image:
    """Gradients in exact integer steps: PNG's filters turn them into near-constant bytes."""
    xy = pyvips.Image.xyz(side, side)
    x, y = xy[0], xy[1]
    bands = [(x * 4) % 65536, (y * 4) % 65536, ((x + y) * 2) % 65536]
    alpha = 65535 - ((x + 2 * y) * 4) % 32767
    return bands[0].bandjoin([*bands[1:], alpha]).cast("ushort").copy(interpretation="rgb16")


def _photo(spec: BigImageSpec, source: Path) -> pyvips.Image:
    photo = pyvips.Image.new_from_file(str(source), access="sequential")[0:3]
    scale = math.sqrt(spec.megapixels * 1e6 / (photo.width * photo.height))
    big = photo.resize(scale, kernel="linear")
    noise = pyvips.Image.gaussnoise(big.width, big.height, sigma=spec.noise_sigma, mean=0)
    return (big + noise).cast("uchar")


def generate(spec: BigImageSpec, directory: Path, source: Path = SOURCE_PHOTO) -> Path:
    """Write `spec` into `directory` (kept if already there) and return its path."""
    kind = "rgba16-" if spec.smooth_rgba16 else ""
    path = directory / (
        f"big-{kind}{spec.megapixels:g}mp-{spec.format}-{len(spec.save_options)}"
        f"-o{spec.orientation}.{spec.format}"
    )
    if path.exists():
        return path
    if spec.smooth_rgba16:
        big = _smooth_rgba16(round(math.sqrt(spec.megapixels * 1e6)))
    else:
        big = _photo(spec, source)
    if spec.orientation != 1:
        big = big.copy()
        big.set_type(pyvips.GValue.gint_type, "orientation", spec.orientation)
    partial = path.with_suffix(".partial" + path.suffix)
    big.write_to_file(str(partial), **spec.save_options)
    partial.rename(path)
    return path


@dataclass
class BigImageRun:
    """One big image through a fresh server with --workers 1."""

    label: str
    format: str
    width: int
    height: int
    megapixels: float
    input_bytes: int
    output_bytes: int
    kept_original: bool
    wall_seconds: float
    estimate_bytes: int
    idle_worker_rss_bytes: int
    peak_worker_rss_bytes: int
    after_worker_rss_bytes: int
    """The idle worker's RSS one second after the job finished."""
    peak_server_rss_bytes: int
    """The front (gRPC) process alone."""
    peak_tree_rss_bytes: int
    error: str = ""

    @property
    def worker_ratio(self) -> float:
        """Peak worker RSS over the estimate (the estimate is of one worker's peak)."""
        return self.peak_worker_rss_bytes / self.estimate_bytes

    @property
    def tree_ratio(self) -> float:
        return self.peak_tree_rss_bytes / self.estimate_bytes


@dataclass
class ConcurrentRun:
    """`requests` concurrent copies of one big image against --workers 2 and a tight budget."""

    label: str
    requests: int
    workers: int
    memory_budget_bytes: int
    estimate_bytes: int
    succeeded: int
    errors: list[str]
    wall_seconds: float
    peak_workers_rss_bytes: int
    """Largest sum of the workers' RSS at one instant (what the budget bounds)."""
    peak_tree_rss_bytes: int


def _estimate(path: Path) -> tuple[int, int, int]:
    header = pipeline.probe(path, BENCH_LIMITS)
    return estimate_memory(header, path.stat().st_size), header.width, header.height


async def _compress_all(server: ServerProcess, path: Path, quality: int, count: int) -> list[Any]:
    async with AsyncClient(server.address, api_key=server.api_key, timeout=3600) as client:

        async def one() -> Any:
            try:
                return await client.compress(path, quality=quality)
            except PixpressError as error:
                return f"{error.code.name}: {error.message}"

        return list(await asyncio.gather(*(one() for _ in range(count))))


def run_single(spec: BigImageSpec, path: Path, quality: int, scratch: Path) -> BigImageRun:
    """One request against a fresh `--workers 1` server (so no earlier image's heap counts)."""
    estimate, width, height = _estimate(path)
    server = start_server(scratch / f"big-{spec.format}-{spec.megapixels:g}", ["--workers", "1"])
    try:
        time.sleep(0.5)
        idle = RssSampler(root=server.pid)
        idle._sample()
        with RssSampler(root=server.pid) as sampler:
            started = time.perf_counter()
            (result,) = asyncio.run(_compress_all(server, path, quality, 1))
            wall = time.perf_counter() - started
        # What the worker keeps after the job (freed heap not returned to the OS).
        time.sleep(1.0)
        after = RssSampler(root=server.pid)
        after._sample()
    finally:
        server.stop()
    failed = isinstance(result, str)
    return BigImageRun(
        label=spec.label,
        format=spec.format,
        width=width,
        height=height,
        megapixels=width * height / 1e6,
        input_bytes=path.stat().st_size,
        output_bytes=0 if failed else result.output_size,
        kept_original=False if failed else result.kept_original,
        wall_seconds=wall,
        estimate_bytes=estimate,
        idle_worker_rss_bytes=idle.peaks.single_child,
        peak_worker_rss_bytes=sampler.peaks.single_child,
        after_worker_rss_bytes=after.peaks.single_child,
        peak_server_rss_bytes=sampler.peaks.root,
        peak_tree_rss_bytes=sampler.peaks.total,
        error=result if failed else "",
    )


def run_concurrent(
    label: str, path: Path, quality: int, scratch: Path, *, requests: int = 4, workers: int = 2
) -> ConcurrentRun:
    """`requests` at once with --memory-budget just above `workers` estimates."""
    estimate, _, _ = _estimate(path)
    budget = workers * estimate + 16 * MIB
    server = start_server(
        scratch / "big-concurrent",
        ["--workers", str(workers), "--memory-budget", str(budget)],
    )
    try:
        with RssSampler(root=server.pid) as sampler:
            started = time.perf_counter()
            results = asyncio.run(_compress_all(server, path, quality, requests))
            wall = time.perf_counter() - started
    finally:
        server.stop()
    errors = [r for r in results if isinstance(r, str)]
    return ConcurrentRun(
        label=label,
        requests=requests,
        workers=workers,
        memory_budget_bytes=budget,
        estimate_bytes=estimate,
        succeeded=requests - len(errors),
        errors=errors,
        wall_seconds=wall,
        peak_workers_rss_bytes=sampler.peaks.children_total,
        peak_tree_rss_bytes=sampler.peaks.total,
    )


def run_big_images(
    directory: Path,
    scratch: Path,
    quality: int,
    specs: Sequence[BigImageSpec] = BIG_IMAGES,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[BigImageRun], ConcurrentRun | None]:
    """Generate, then run each image alone, then the concurrent run; returns both."""
    singles = []
    paths = {}
    for spec in specs:
        if progress is not None:
            progress(f"generate {spec.label}")
        paths[spec.label] = generate(spec, directory)
        if progress is not None:
            progress(f"compress {spec.label}")
        singles.append(run_single(spec, paths[spec.label], quality, scratch))
    concurrent = None
    if CONCURRENT_LABEL in paths:
        if progress is not None:
            progress(f"4 x {CONCURRENT_LABEL} concurrently")
        concurrent = run_concurrent(CONCURRENT_LABEL, paths[CONCURRENT_LABEL], quality, scratch)
    return singles, concurrent


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks.bigimages`: the big-image part of the benchmark alone."""
    import argparse
    import tempfile

    from benchmarks.report import big_lines
    from benchmarks.targets import evaluate

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bigimages", description=main.__doc__
    )
    parser.add_argument("--only", action="append", default=[], help="a case label (repeatable)")
    parser.add_argument("--dir", type=Path, default=None, help="generate (and reuse) images here")
    parser.add_argument("--quality", type=int, default=75)
    args = parser.parse_args(argv)
    specs = [spec for spec in BIG_IMAGES if not args.only or spec.label in args.only]
    with tempfile.TemporaryDirectory(prefix="pixpress-big-") as scratch:
        directory = args.dir or Path(scratch) / "big"
        directory.mkdir(parents=True, exist_ok=True)
        singles, concurrent = run_big_images(
            directory, Path(scratch), args.quality, specs, progress=print
        )
    print("\n".join(big_lines(singles, concurrent)))
    targets = evaluate([], [], singles, concurrent, args.quality)
    for target in targets:
        if target.met is not None:  # the others need the rest of the benchmark
            print(f"{'met' if target.met else 'NOT MET'}: {target.name}: {target.measured}")
    return 0 if all(t.met is not False for t in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
