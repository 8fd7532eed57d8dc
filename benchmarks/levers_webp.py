"""Lossy WebP levers libvips exposes beyond method: smart_deblock, preset, passes, alpha_q.

python -m benchmarks.levers_webp --qualities 50,65,80,90,95 --jobs 2
BD-rate at equal mean SSIMULACRA2 and encode CPU against the current default (method 4).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvips

from benchmarks.levers import SHARED_CORPUS, Sample, curves, report
from benchmarks.quality.ssimulacra2 import score

Encode = Callable[[Any, int], bytes]

DEFAULT_IMAGES: tuple[str, ...] = tuple(
    f"photos/kodak/kodim{number:02d}.png" for number in (1, 3, 5, 13, 19, 23)
)


def _webp(effort: int = 4, **options: object) -> Encode:
    def encode(image: Any, quality: int) -> bytes:
        data: bytes = image.webpsave_buffer(Q=quality, effort=effort, keep="none", **options)
        return data

    return encode


CANDIDATES: dict[str, Encode] = {
    "current (method 4)": _webp(),
    "smart_deblock": _webp(smart_deblock=True),
    "preset photo": _webp(preset="photo"),
    "preset picture": _webp(preset="picture"),
    "preset drawing": _webp(preset="drawing"),
    "passes 3": _webp(passes=3),
    "method 5": _webp(5),
    "method 5 smart_deblock": _webp(5, smart_deblock=True),
    "method 6": _webp(6),
    "method 6 smart_deblock": _webp(6, smart_deblock=True),
}


def _rgb(image: Any) -> npt.NDArray[np.uint8]:
    image = image[0:3].cast("uchar")
    shape = (image.height, image.width, 3)
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8, shape=shape)


def measure_image(
    path: str, qualities: Sequence[int], repeats: int, names: Sequence[str]
) -> list[Sample]:
    """Every named candidate at every quality on one image (order rotated per quality)."""
    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    image = pyvips.Image.new_from_file(path).colourspace("srgb")[0:3].copy_memory()
    reference = _rgb(image)
    megapixels = image.width * image.height / 1e6
    candidates = [(name, CANDIDATES[name]) for name in names]
    samples: list[Sample] = []
    for index, quality in enumerate(qualities):
        shift = index % len(candidates)
        for name, encode in candidates[shift:] + candidates[:shift]:
            times = []
            for _ in range(repeats):
                started = time.process_time()
                data = encode(image, quality)
                times.append(time.process_time() - started)
            value = score(reference, _rgb(pyvips.Image.webpload_buffer(data)))
            samples.append(
                Sample(name, quality, len(data), value, statistics.median(times), megapixels)
            )
    return samples


def alpha_q_bytes(path: str, quality: int, alpha_qualities: Sequence[int]) -> dict[int, int]:
    """Bytes of an RGBA image at `quality` per alpha_q (the colour planes are unchanged)."""
    image = pyvips.Image.new_from_file(path)
    return {
        alpha: len(image.webpsave_buffer(Q=quality, alpha_q=alpha, keep="none"))
        for alpha in alpha_qualities
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.levers_webp", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS)
    parser.add_argument("--images", default=",".join(DEFAULT_IMAGES), help="paths in --corpus")
    parser.add_argument("--qualities", default="50,65,80,90,95")
    parser.add_argument("--repeats", type=int, default=3, help="timed encodes; median kept")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--candidates",
        default=",".join(CANDIDATES),
        help="comma-separated names; the first is the reference",
    )
    parser.add_argument("--alpha-image", type=Path, help="an RGBA image for the alpha_q bytes")
    args = parser.parse_args(argv)
    paths = [str(args.corpus / name) for name in args.images.split(",") if name]
    missing = [path for path in paths if not Path(path).is_file()]
    if missing:
        parser.error(f"missing images: {', '.join(missing)}")
    qualities = [int(value) for value in args.qualities.split(",")]
    names = [name for name in args.candidates.split(",") if name]
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates: {', '.join(unknown)}")
    samples: list[Sample] = []
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(measure_image, path, qualities, args.repeats, names) for path in paths
        ]
        for future in futures:
            samples.extend(future.result())
    print(f"webp: {len(paths)} images, qualities {qualities}, {args.repeats} repeats")
    found = curves(samples)
    for curve in found:
        points = ", ".join(f"{value:.1f}:{size / 1000:.0f}k" for value, size in curve.points)
        print(f"  {curve.name}: {points}")
    print(report(found, None))
    if args.alpha_image is not None:
        sizes = alpha_q_bytes(str(args.alpha_image), 75, (100, 90, 75, 50))
        print(f"alpha_q bytes at Q 75 on {args.alpha_image.name}: {sizes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
