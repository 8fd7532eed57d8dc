"""Lossless (q 100): pixpress against jpegtran, oxipng and zopflipng, pixels checked identical.

The figure per format is pixpress's total bytes over the sum of each image's smallest peer
output; an output whose decoded pixels differ from its input's is counted as a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.compare_inputs import EXTENSIONS, InputImage
from benchmarks.peers import lossless
from benchmarks.ratequality import pixpress_compressor

LOSSLESS_QUALITY = 100


def same_pixels(a: Path, b: Path) -> bool:
    """Both files decode (Pillow, all frames' first) to the same mode, size and pixels."""
    with Image.open(a) as first, Image.open(b) as second:
        left, right = first.convert("RGBA"), second.convert("RGBA")
        return left.size == right.size and bool(np.array_equal(np.asarray(left), np.asarray(right)))


@dataclass
class LosslessRow:
    """One format: total bytes per tool over the images, and pixel checks."""

    format: str
    images: int
    input_bytes: int
    bytes: dict[str, int] = field(default_factory=dict)
    best_peer_bytes: int = 0
    """Sum over images of the smallest peer output."""
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
        rows.append(row)
        log(f"  lossless {image_format}: {row.bytes}")
    return rows
