"""HTTP vs gRPC: the same images through one server's two edges, in interleaved passes.

`python -m benchmarks.http_vs_grpc [--out DIR]`: images/s, MB/s and server CPU per request
of each path at each concurrency, and the HTTP/gRPC throughput ratio (issue 9: >= 0.90).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pyvips
from pixpress import AsyncClient, PixpressError

from benchmarks.compare_inputs import pick_photos
from benchmarks.environment import describe
from benchmarks.levers import SHARED_CORPUS
from benchmarks.measure import (
    MB,
    cpu_delta,
    cpu_seconds,
    median,
    own_cpu_seconds,
    settle,
    tree_pids,
)
from benchmarks.server import ServerProcess, start_server

JSON_NAME = "results.json"
MARKDOWN_NAME = "report.md"
TARGET_RATIO = 0.90
PATHS = ("grpc", "http")
PHOTO_SCALE = {"jpeg": 2.0, "png": 1.5, "webp": 2.0}
"""Kodak photos (768x512) enlarged so each input is about 1-3 MB (WebP ~0.5 MB at q 98)."""
SMALL_WIDTH = 128
SMALL_COPIES = 8
"""Each small image is sent this many times per pass, so a pass lasts long enough to time."""
SMOKE_WIDTH = 64
SETTLE_WINDOW = 0.2
SETTLE_CPU = 0.1
"""A pass starts once the server tree used under this share of a core for SETTLE_WINDOW s:
the previous pass's tail (actions recorded, files removed) would otherwise slow the next."""
SETTLE_LIMIT = 10.0


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    format: str
    data: bytes


@dataclass
class Sample:
    """One timed pass of one path over one subset at one concurrency."""

    path: str
    subset: str
    concurrency: int
    repeat: int
    wall_seconds: float
    images: int
    bytes_in: int
    bytes_out: int
    server_cpu_seconds: float
    """The server process and its workers."""
    edge_cpu_seconds: float
    """The server process alone: the edge (gRPC or HTTP), auth, actions; not the encoders."""
    client_cpu_seconds: float
    errors: list[str]

    @property
    def images_per_second(self) -> float:
        return self.images / self.wall_seconds

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes_in / MB / self.wall_seconds


def _encode(image: Any, image_format: str) -> bytes:
    if image_format == "jpeg":
        return bytes(image.jpegsave_buffer(Q=98, subsample_mode="off"))
    if image_format == "webp":
        return bytes(image.webpsave_buffer(Q=98))
    return bytes(image.pngsave_buffer())


def corpus_with_photos(corpus: Path) -> Path:
    """`corpus` when it holds Kodak photos, else the test fixtures (which hold two)."""
    if any(corpus.rglob("kodim*.png")):
        return corpus
    return Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def build_inputs(corpus: Path, photos: int, smoke: bool) -> dict[str, list[Input]]:
    """subset -> images: `photos` Kodak photos enlarged to ~1-3 MB, formats in turn (JPEG q 98
    4:4:4, PNG, WebP q 98), and small copies of the first three in each format."""
    sources = pick_photos(corpus_with_photos(corpus), photos)
    formats = tuple(PHOTO_SCALE)
    subsets: dict[str, list[Input]] = {"photos": [], "small": []}
    for index, source in enumerate(sources):
        image = pyvips.Image.new_from_file(str(source), access="sequential").copy_memory()
        if not smoke:
            image_format = formats[index % len(formats)]
            big = image.resize(PHOTO_SCALE[image_format], kernel="lanczos3")
            subsets["photos"].append(Input(source.stem, image_format, _encode(big, image_format)))
        if index < len(formats):
            small = image.resize((SMOKE_WIDTH if smoke else SMALL_WIDTH) / image.width)
            copies = 1 if smoke else SMALL_COPIES
            for image_format in formats:
                data = _encode(small, image_format)
                subsets["small"] += [
                    Input(f"{source.stem}-{copy}", image_format, data) for copy in range(copies)
                ]
    return {name: images for name, images in subsets.items() if images}


class Paths:
    """One server, an SDK AsyncClient (one gRPC channel) and an httpx AsyncClient beside it."""

    def __init__(self, server: ServerProcess, quality: int) -> None:
        self.server = server
        self.quality = quality
        self.grpc = AsyncClient(server.address, api_key=server.api_key, timeout=3600)
        headers = {"Content-Type": "application/octet-stream"}
        if server.api_key:
            headers["Authorization"] = f"Bearer {server.api_key}"
        self.http = httpx.AsyncClient(
            base_url=f"http://{server.http_address}",
            headers=headers,
            timeout=httpx.Timeout(3600),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    async def close(self) -> None:
        await self.grpc.close()
        await self.http.aclose()

    async def via_grpc(self, image: Input) -> int:
        """Compress over gRPC; the output's size."""
        result = await self.grpc.compress(image.data, quality=self.quality)
        return len(result.data)

    async def via_http(self, image: Input) -> int:
        """POST /v1/compress with the raw body, the response streamed; the output's size."""
        async with self.http.stream(
            "POST", "/v1/compress", params={"quality": self.quality}, content=image.data
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            output = b"".join([chunk async for chunk in response.aiter_raw()])
        expected = int(response.headers["X-Pixpress-Output-Size"])
        if len(output) != expected:
            raise RuntimeError(f"HTTP body of {len(output)} bytes, header says {expected}")
        return len(output)

    def call(self, path: str) -> Callable[[Input], Awaitable[int]]:
        return self.via_grpc if path == "grpc" else self.via_http

    async def run_pass(
        self, path: str, subset: str, images: Sequence[Input], concurrency: int, repeat: int
    ) -> Sample:
        call = self.call(path)
        gate = asyncio.Semaphore(concurrency)
        sizes: list[int] = []
        errors: list[str] = []

        async def one(image: Input) -> None:
            async with gate:
                try:
                    sizes.append(await call(image))
                except (PixpressError, RuntimeError, httpx.HTTPError) as error:
                    errors.append(f"{image.name}.{image.format}: {error}")

        await settle(lambda: tree_pids(self.server.pid), SETTLE_WINDOW, SETTLE_CPU, SETTLE_LIMIT)
        pids = tree_pids(self.server.pid)
        server_before, client_before = cpu_seconds(pids), own_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(one(image) for image in images))
        wall = time.perf_counter() - started
        server_after = cpu_seconds(tree_pids(self.server.pid))
        main = self.server.pid
        return Sample(
            path=path,
            subset=subset,
            concurrency=concurrency,
            repeat=repeat,
            wall_seconds=wall,
            images=len(images),
            bytes_in=sum(len(image.data) for image in images),
            bytes_out=sum(sizes),
            server_cpu_seconds=cpu_delta(server_before, server_after),
            edge_cpu_seconds=server_after.get(main, 0.0) - server_before.get(main, 0.0),
            client_cpu_seconds=own_cpu_seconds() - client_before,
            errors=errors,
        )


async def measure(
    server: ServerProcess,
    subsets: dict[str, list[Input]],
    quality: int,
    concurrencies: Sequence[int],
    repeats: int,
    log: Callable[[str], None],
) -> list[Sample]:
    """A warm-up pass per path (connections, worker caches), then `repeats` rounds in which
    every subset x concurrency runs gRPC and HTTP back to back, the order alternating."""
    paths = Paths(server, quality)
    samples: list[Sample] = []
    try:
        for path in PATHS:
            for subset, images in subsets.items():
                await paths.run_pass(path, subset, images, max(concurrencies), -1)
        for repeat in range(repeats):
            for subset, images in subsets.items():
                for concurrency in concurrencies:
                    order = PATHS if (repeat + concurrency) % 2 == 0 else PATHS[::-1]
                    for path in order:
                        sample = await paths.run_pass(path, subset, images, concurrency, repeat)
                        samples.append(sample)
                        log(
                            f"repeat {repeat + 1}/{repeats} {subset} c{concurrency} {path}: "
                            f"{sample.images_per_second:.2f} img/s, "
                            f"{sample.megabytes_per_second:.2f} MB/s, "
                            f"{len(sample.errors)} errors"
                        )
    finally:
        await paths.close()
    return samples


def summarise(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Per subset and concurrency: each path's medians and the HTTP/gRPC ratios."""
    rows: list[dict[str, Any]] = []
    keys = sorted({(s.subset, s.concurrency) for s in samples})
    for subset, concurrency in keys:
        row: dict[str, Any] = {"subset": subset, "concurrency": concurrency}
        for path in PATHS:
            mine = [
                s
                for s in samples
                if (s.subset, s.concurrency, s.path) == (subset, concurrency, path)
            ]
            row[path] = {
                "passes": len(mine),
                "images": mine[0].images if mine else 0,
                "images_per_second": median(s.images_per_second for s in mine),
                "megabytes_per_second": median(s.megabytes_per_second for s in mine),
                "server_cpu_ms_per_request": median(
                    1000 * s.server_cpu_seconds / s.images for s in mine
                ),
                "edge_cpu_ms_per_request": median(
                    1000 * s.edge_cpu_seconds / s.images for s in mine
                ),
                "client_cpu_ms_per_request": median(
                    1000 * s.client_cpu_seconds / s.images for s in mine
                ),
                "errors": sum(len(s.errors) for s in mine),
            }
        grpc, http = row["grpc"], row["http"]
        row["throughput_ratio"] = median(
            _paired_ratios(
                [s for s in samples if (s.subset, s.concurrency) == (subset, concurrency)]
            )
        )
        row["ratio_of_medians"] = http["images_per_second"] / grpc["images_per_second"]
        row["server_cpu_ratio"] = (
            http["server_cpu_ms_per_request"] / grpc["server_cpu_ms_per_request"]
        )
        row["meets_target"] = row["throughput_ratio"] >= TARGET_RATIO
        rows.append(row)
    return rows


def _paired_ratios(samples: Sequence[Sample]) -> list[float]:
    """HTTP/gRPC images/s of each repeat's two back-to-back passes (per subset and
    concurrency): a busy moment on a shared machine hits both sides of a pair alike."""
    pairs: dict[tuple[str, int, int], dict[str, float]] = {}
    for sample in samples:
        key = (sample.subset, sample.concurrency, sample.repeat)
        pairs.setdefault(key, {})[sample.path] = sample.images_per_second
    return [pair["http"] / pair["grpc"] for pair in pairs.values() if set(pair) == set(PATHS)]


def overall_ratio(samples: Sequence[Sample]) -> float:
    """The median of every repeat's HTTP/gRPC ratio over all subsets and concurrencies."""
    return median(_paired_ratios(samples))


def markdown(meta: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    environment = meta["environment"]
    lines = [
        "# pixpress: HTTP vs gRPC throughput",
        "",
        f"{str(environment['date'])[:10]} · {environment['cpu_model']} · "
        f"{environment['usable_cores']} cores · `{meta['command']}`",
        "",
        f"One server (`{' '.join(meta['server_args'])}`), quality {meta['quality']}, "
        f"{meta['repeats']} interleaved repeats, medians. Inputs: {meta['inputs']}. "
        "gRPC: the SDK's AsyncClient on one channel; HTTP: httpx AsyncClient, raw body, "
        "streamed response. HTTP/gRPC: the median of each repeat's ratio (back-to-back passes). "
        "Server CPU: the server process and its workers; edge CPU: the server process alone "
        "(the edge, auth, actions; the encoders run in the workers). psutil.",
        "",
        "| images | c | gRPC img/s | HTTP img/s | HTTP/gRPC | gRPC MB/s | HTTP MB/s "
        "| server CPU ms/req gRPC | HTTP | edge CPU ms/req gRPC | HTTP "
        f"| client CPU ms/req gRPC | HTTP | target >= {TARGET_RATIO:.2f} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        grpc, http = row["grpc"], row["http"]
        lines.append(
            f"| {row['subset']} ({grpc['images']}) | {row['concurrency']} "
            f"| {grpc['images_per_second']:.2f} | {http['images_per_second']:.2f} "
            f"| **{row['throughput_ratio']:.3f}** "
            f"| {grpc['megabytes_per_second']:.2f} | {http['megabytes_per_second']:.2f} "
            f"| {grpc['server_cpu_ms_per_request']:.1f} | {http['server_cpu_ms_per_request']:.1f} "
            f"| {grpc['edge_cpu_ms_per_request']:.1f} | {http['edge_cpu_ms_per_request']:.1f} "
            f"| {grpc['client_cpu_ms_per_request']:.1f} | {http['client_cpu_ms_per_request']:.1f} "
            f"| {'met' if row['meets_target'] else 'MISSED'} |"
        )
    ratio = meta["overall_ratio"]
    lines += [
        "",
        f"Over every pair of passes: HTTP/gRPC **{ratio:.3f}** (target >= {TARGET_RATIO:.2f}: "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}).",
    ]
    return "\n".join(lines) + "\n"


def _describe_inputs(subsets: dict[str, list[Input]]) -> str:
    parts = []
    for subset, images in subsets.items():
        sizes = [len(image.data) for image in images]
        formats = sorted({image.format for image in images})
        parts.append(
            f"{subset}: {len(images)} {'/'.join(formats)} of {min(sizes) / 1000:.0f}-"
            f"{max(sizes) / 1000:.0f} kB"
        )
    return "; ".join(parts)


def _int_list(text: str) -> list[int]:
    return sorted({int(part) for part in text.split(",") if part.strip()})


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="python -m benchmarks.http_vs_grpc", description=__doc__.splitlines()[0]
    )
    command.add_argument("--corpus", type=Path, default=SHARED_CORPUS, help="Kodak photos here")
    command.add_argument("--photos", type=int, default=12, help="Kodak photos, enlarged")
    command.add_argument("--concurrency", type=_int_list, default=[1, 4], help="e.g. 1,4")
    command.add_argument(
        "--repeats",
        type=int,
        default=6,
        help="timed passes per configuration (even: each path goes first as often)",
    )
    command.add_argument("--workers", type=int, default=2, help="server worker processes")
    command.add_argument("--quality", type=int, default=75)
    command.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    command.add_argument(
        "--smoke", action="store_true", help="3 tiny images, concurrency 1, 1 repeat"
    )
    return command


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.smoke:
        args.photos, args.concurrency, args.repeats, args.workers = 3, [1], 1, 1
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="pixpress-http-vs-grpc-"))
    out.mkdir(parents=True, exist_ok=True)
    subsets = build_inputs(args.corpus, args.photos, args.smoke)
    server_args = ["--workers", str(args.workers), "--rate-limit", "0"]
    data_dir = Path(tempfile.mkdtemp(prefix="pixpress-http-vs-grpc-server-"))
    server = start_server(data_dir, server_args)
    try:
        samples = asyncio.run(
            measure(
                server,
                subsets,
                args.quality,
                args.concurrency,
                args.repeats,
                lambda text: print(text, file=sys.stderr, flush=True),
            )
        )
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    rows = summarise(samples)
    meta = {
        "environment": describe(),
        "command": shlex.join(
            [
                "python",
                "-m",
                "benchmarks.http_vs_grpc",
                *(argv if argv is not None else sys.argv[1:]),
            ]
        ),
        "server_args": server_args,
        "quality": args.quality,
        "repeats": args.repeats,
        "inputs": _describe_inputs(subsets),
        "target_ratio": TARGET_RATIO,
        "overall_ratio": overall_ratio(samples),
    }
    results = {"meta": meta, "rows": rows, "samples": [asdict(s) for s in samples]}
    (out / JSON_NAME).write_text(json.dumps(results, indent=2, default=str) + "\n")
    report = markdown(meta, rows)
    (out / MARKDOWN_NAME).write_text(report)
    print(report)
    print(f"wrote {out / JSON_NAME} and {out / MARKDOWN_NAME}", file=sys.stderr)
    errors = sum(len(s.errors) for s in samples)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
