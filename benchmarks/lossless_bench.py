"""Lossless (q 100): pixpress against jpegtran, oxipng and zopflipng, pixels checked identical.

The figure per format is pixpress's total bytes over the sum of each image's smallest peer
output; an output whose decoded pixels differ from its input's is counted as a failure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyvips
from PIL import Image

from benchmarks.compare_inputs import EXTENSIONS, InputImage, pick_photos
from benchmarks.peers import lossless
from benchmarks.ratequality import new_pool, pixpress_compressor

LOSSLESS_QUALITY = 100


def _rgba16(path: Path) -> np.ndarray:
    """The first frame as 16-bit RGBA: gray spread to RGB, opaque alpha added, 8-bit x 257,
    so colour type and bit depth reductions (exact by construction) compare equal."""
    image = pyvips.Image.new_from_file(str(path))
    pixels = np.asarray(image.numpy()).astype(np.uint16)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if image.format == "uchar":
        pixels *= 257
    colour, alpha = (
        (pixels[:, :, :1], pixels[:, :, 1:])
        if pixels.shape[2] <= 2
        else (
            pixels[:, :, :3],
            pixels[:, :, 3:],
        )
    )
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    if alpha.shape[2] == 0:
        alpha = np.full((*colour.shape[:2], 1), 65535, dtype=np.uint16)
    return np.concatenate([colour, alpha], axis=2)


def same_pixels(a: Path, b: Path) -> bool:
    """Both files decode (libvips, first frame, full bit depth) to the same size and pixels."""
    left, right = _rgba16(a), _rgba16(b)
    return left.shape == right.shape and bool(np.array_equal(left, right))


@dataclass
class LosslessRow:
    """One format: total bytes per tool over the images, and pixel checks."""

    format: str
    images: int
    input_bytes: int
    bytes: dict[str, int] = field(default_factory=dict)
    best_peer_bytes: int = 0
    """Sum over images of the smallest peer output."""
    pixpress_at_or_under_best: int = 0
    """Images whose pixpress output is no larger than their smallest peer output."""
    pixel_mismatches: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def pixpress_vs_best(self) -> float | None:
        if not self.best_peer_bytes or "pixpress" not in self.bytes:
            return None
        return self.bytes["pixpress"] / self.best_peer_bytes


def run_lossless(
    inputs: Mapping[str, Sequence[InputImage]],
    executor: ProcessPoolExecutor,
    scratch: Path,
    log: Callable[[str], None],
) -> list[LosslessRow]:
    rows = []
    compress = pixpress_compressor(executor)
    for image_format in ("jpeg", "png"):
        images = list(inputs.get(image_format, ()))
        if not images:
            continue
        row = LosslessRow(image_format, len(images), sum(i.size for i in images))
        per_image: dict[str, list[int]] = {image.name: [] for image in images}
        outputs = compress(
            image_format, images, LOSSLESS_QUALITY, scratch / "pixpress" / image_format
        )
        row.bytes["pixpress"] = sum(
            outputs[i.name].stat().st_size for i in images if i.name in outputs
        )
        row.pixel_mismatches["pixpress"] = sum(
            1 for i in images if i.name not in outputs or not same_pixels(i.path, outputs[i.name])
        )
        for tool, (tool_format, _, _) in lossless.TOOLS.items():
            if tool_format != image_format:
                continue
            reason = lossless.missing(tool)
            if reason is not None:
                row.skipped.append(reason)
                log(f"  {reason}")
                continue
            out = scratch / tool / image_format
            out.mkdir(parents=True, exist_ok=True)

            def one(image: InputImage, tool: str = tool, out: Path = out) -> tuple[str, Path, int]:
                target = out / f"{image.name}{EXTENSIONS[image.format]}"
                return image.name, target, lossless.run(tool, image.path, target)

            with ThreadPoolExecutor(max_workers=2) as pool:
                results = list(pool.map(one, images))
            row.bytes[tool] = sum(size for _, _, size in results)
            row.pixel_mismatches[tool] = sum(
                1
                for (name, target, _), image in zip(results, images, strict=True)
                if not same_pixels(image.path, target)
            )
            for name, _, size in results:
                per_image[name].append(size)
        row.best_peer_bytes = sum(min(sizes) for sizes in per_image.values() if sizes)
        row.pixpress_at_or_under_best = sum(
            1
            for i in images
            if i.name in outputs
            and per_image[i.name]
            and outputs[i.name].stat().st_size <= min(per_image[i.name])
        )
        rows.append(row)
        log(f"  lossless {image_format}: {row.bytes}")
    return rows


def png_inputs(corpus: Path, kodak: int, pngsuite_step: int) -> list[InputImage]:
    """`kodak` photos spread over the corpus's Kodak PNGs, then every `pngsuite_step`-th
    valid PngSuite image (the x* files are the suite's corrupt cases)."""
    suite = sorted(
        (p for p in corpus.rglob("*.png") if "pngsuite" in p.parts and p.name[0] != "x"),
        key=lambda path: path.name,
    )
    paths = pick_photos(corpus, kodak) + suite[::pngsuite_step]
    images = []
    for path in paths:
        with Image.open(path) as image:
            width, height = image.size
        images.append(InputImage(path.stem, "png", path, width, height))
    return images


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lossless_bench",
        description="q 100 PNG: pixpress against oxipng -o4 and zopflipng, pixels checked.",
    )
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--kodak", type=int, default=8, help="Kodak photos (spread)")
    parser.add_argument("--pngsuite-step", type=int, default=4, help="every Nth PngSuite PNG")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    images = png_inputs(args.corpus, args.kodak, args.pngsuite_step)
    groups = {
        "kodak": [i for i in images if "pngsuite" not in i.path.parts],
        "pngsuite": [i for i in images if "pngsuite" in i.path.parts],
    }
    results: dict[str, list[LosslessRow]] = {}
    with tempfile.TemporaryDirectory(prefix="pixpress-lossless-") as scratch:
        pool = new_pool(args.workers, pixpress=True)
        try:
            for group, members in groups.items():
                results[group] = run_lossless({"png": members}, pool, Path(scratch) / group, print)
        finally:
            pool.shutdown(cancel_futures=True)
    print("| images | tool | bytes | vs best peer per image | pixel mismatches |")
    print("|---|---|---|---|---|")
    for group, rows in results.items():
        for row in rows:
            best = row.best_peer_bytes
            for tool, size in row.bytes.items():
                ratio = f"{size / best:.4f}x" if best else "—"
                mismatches = row.pixel_mismatches.get(tool, "")
                print(f"| {group} ({row.images}) | {tool} | {size} | {ratio} | {mismatches} |")
            print(
                f"| {group} ({row.images}) | best peer per image | {best} | "
                f"pixpress at or under it on {row.pixpress_at_or_under_best} images | |"
            )
    if args.json is not None:
        args.json.write_text(
            json.dumps({group: [asdict(r) for r in rows] for group, rows in results.items()})
        )


if __name__ == "__main__":
    main()
