"""Where effort-1 JPEG CPU goes, stage by stage, against a thumbor-like libjpeg-turbo encode.

python -m benchmarks.jpeg_profile [--corpus ../shared/corpus] [--repeats 7] [--service]
One process, rounds interleaved, medians of process CPU: read these as ratios.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mozjpeg_lossless_optimization
import psutil
import pyjpegli
from PIL import Image
from pixpress import Client
from pixpress_server.processing import pipeline, vips
from pixpress_server.processing.encoders import jpeg
from pixpress_server.processing.jpeg_quality import read_header
from pixpress_server.processing.jpeg_strip import strip_metadata
from pixpress_server.processing.model import CompressOptions, ImageFormat, Limits

from benchmarks.server import start_server

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
# What benchmarks.compare takes: Kodak photos saved as JPEG q 95 4:2:0, and a camera JPEG.
KODAK = ("kodim01", "kodim07", "kodim13", "kodim19")
CAMERA = "odd/exif-orientation/Landscape_1.jpg"
QUALITY = 75
LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)

Step = Callable[[Path, bytes], object]


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    paths: tuple[Path, ...]
    megapixels: float


def _inputs(corpus: Path, folder: Path) -> list[Group]:
    kodak: list[Path] = []
    for name in KODAK:
        path = folder / f"{name}.jpg"
        with Image.open(corpus / "photos" / "kodak" / f"{name}.png") as image:
            image.convert("RGB").save(path, "JPEG", quality=95, subsampling=2)
        kodak.append(path)
    camera = folder / Path(CAMERA).name
    camera.write_bytes((corpus / CAMERA).read_bytes())
    return [_group("kodak q95 (re-encoded)", kodak), _group("camera q73 (kept)", [camera])]


def _group(name: str, paths: Sequence[Path]) -> Group:
    pixels = 0
    for path in paths:
        with Image.open(path) as image:
            pixels += image.width * image.height
    return Group(name, tuple(paths), pixels / 1e6)


def _pipeline(destination: Path) -> Step:
    def step(path: Path, _: bytes) -> object:
        return pipeline.compress(path, destination, CompressOptions(QUALITY, effort=1), LIMITS)

    return step


def _thumbor_like(_: Path, data: bytes) -> object:
    """What thumbor does with a JPEG: Pillow (libjpeg-turbo) decode, optimised progressive."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        output = io.BytesIO()
        image.save(output, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return output


def _decode(path: Path, _: bytes) -> object:
    return vips.load(path, ImageFormat.JPEG).packed()


def _jpegli_encode(_: Path, data: bytes) -> object:
    rgb, width, height = pyjpegli.decode(data)
    started = time.process_time()
    pyjpegli.encode(rgb, width, height, QUALITY)
    return time.process_time() - started  # the encode alone, not the decode before it


STEPS: dict[str, Step] = {
    "source quality (header, tables)": lambda _, data: jpeg.source_quality(data),
    "header read": lambda _, data: read_header(data),
    "libvips decode": _decode,
    "jpegli encode": _jpegli_encode,
    "1/8-scale decode check": lambda _, data: vips.check_jpeg_decodes(data, 1000, 1000),
    "metadata strip": lambda _, data: strip_metadata(data),
    "mozjpeg lossless pass": lambda _, data: mozjpeg_lossless_optimization.optimize(data),
    "thumbor-like (Pillow)": _thumbor_like,
}


def _timed(step: Step, group: Group) -> float:
    total = 0.0
    for path in group.paths:
        data = path.read_bytes()
        started = time.process_time()
        result = step(path, data)
        elapsed = time.process_time() - started
        total += result if isinstance(result, float) else elapsed
    return total / group.megapixels


def profile(
    groups: Sequence[Group], steps: dict[str, Step], repeats: int
) -> dict[str, dict[str, float]]:
    """group -> step -> median CPU-s/MP over `repeats` interleaved rounds (after a warm-up)."""
    samples: dict[tuple[str, str], list[float]] = {}
    for round_number in range(repeats + 1):
        for group in groups:
            for name, step in steps.items():
                value = _timed(step, group)
                if round_number:
                    samples.setdefault((group.name, name), []).append(value)
    found: dict[str, dict[str, float]] = {}
    for (group_name, name), values in samples.items():
        found.setdefault(group_name, {})[name] = statistics.median(values)
    return found


def _tree_cpu(pid: int) -> float:
    process = psutil.Process(pid)
    total = 0.0
    for member in (process, *process.children(recursive=True)):
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def per_request(
    corpus: Path, folder: Path, requests: int, repeats: int
) -> tuple[float, float, float]:
    """A 64x48 JPEG (per-request cost dominates): median CPU-s per request of the server
    tree, of its front process alone, and of the in-process pipeline, interleaved."""
    source = folder / "tiny.jpg"
    with Image.open(corpus / "photos" / "kodak" / "kodim23.png") as image:
        image.convert("RGB").resize((64, 48)).save(source, "JPEG", quality=95)
    data = source.read_bytes()
    step = _pipeline(folder / "tiny-out.jpg")
    server = start_server(folder / "data", ["--workers", "1"])
    service: list[float] = []
    front: list[float] = []
    local: list[float] = []
    try:
        with Client(server.address, api_key=server.api_key) as client:
            for _ in range(5):
                client.compress(data, quality=QUALITY, effort=1)
            for _ in range(repeats):
                tree, own = _tree_cpu(server.pid), sum(psutil.Process(server.pid).cpu_times()[:2])
                for _ in range(requests):
                    client.compress(data, quality=QUALITY, effort=1)
                service.append((_tree_cpu(server.pid) - tree) / requests)
                front.append((sum(psutil.Process(server.pid).cpu_times()[:2]) - own) / requests)
                started = time.process_time()
                for _ in range(requests):
                    step(source, data)
                local.append((time.process_time() - started) / requests)
    finally:
        server.stop()
    return statistics.median(service), statistics.median(front), statistics.median(local)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jpeg_profile", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS)
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds; median kept")
    parser.add_argument("--service", action="store_true", help="also the per-request cost")
    parser.add_argument("--requests", type=int, default=40, help="tiny requests per round")
    args = parser.parse_args(argv)
    pipeline.initialise(1)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        groups = _inputs(args.corpus, folder)
        steps = {"pipeline.compress effort 1": _pipeline(folder / "out.jpg"), **STEPS}
        found = profile(groups, steps, args.repeats)
        for group in groups:
            rows = found[group.name]
            reference = rows["thumbor-like (Pillow)"]
            print(
                f"{group.name}: {len(group.paths)} images, {group.megapixels:.2f} MP, q {QUALITY}"
            )
            for name, value in rows.items():
                print(f"  {name:34s} {value * 1000:7.2f} ms/MP  {value / reference:5.2f}x")
        if args.service:
            service, front, local = per_request(args.corpus, folder, args.requests, args.repeats)
            print(
                f"per request (64x48 JPEG): service tree {service * 1000:.2f} ms "
                f"(front process {front * 1000:.2f}, workers {(service - front) * 1000:.2f}), "
                f"in-process pipeline {local * 1000:.2f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
