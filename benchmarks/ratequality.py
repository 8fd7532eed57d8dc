"""Rate-quality sweep: every encoder x format x quality on the same inputs, scored by SSIMULACRA2.

pixpress runs its in-process pipeline (the bytes the service returns); peers run as they ship.
A kept original (pixpress's never-larger guard) counts its input bytes and scores 100.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.bdrate import CurvePoint, bd_rate, bytes_at_score
from benchmarks.compare_inputs import EXTENSIONS, InputImage
from benchmarks.compression import IDENTICAL, score_file
from benchmarks.measure import median
from benchmarks.peers import BatchJob
from benchmarks.quality.display import as_displayed_frames
from benchmarks.quality.ssimulacra2 import score
from benchmarks.tasks import compress_pixpress, initialise_pixpress

QUALITIES: tuple[int, ...] = (50, 65, 80, 90, 95)
EQUAL_SCORES: tuple[float, ...] = (60.0, 70.0, 80.0, 90.0)

Compressor = Callable[[str, Sequence[InputImage], int, Path], dict[str, Path]]
"""(format, images, quality, output dir) -> image name -> output file (the input if kept)."""


@dataclass
class SweepPoint:
    """One encoder at one quality over one format's images."""

    format: str
    encoder: str
    quality: int
    images: int
    input_bytes: int
    output_bytes: int
    mean_score: float | None
    scores: dict[str, float | None] = field(default_factory=dict)

    def curve_point(self) -> CurvePoint | None:
        if self.mean_score is None or self.output_bytes <= 0:
            return None
        return CurvePoint(self.mean_score, self.output_bytes, self.quality)


def score_frames(source: str, output: str) -> float | None:
    """Mean SSIMULACRA2 over the frames of an animation (None if the frame counts differ)."""
    try:
        references = as_displayed_frames(Path(source))
        outputs = as_displayed_frames(Path(output))
    except ValueError:
        return None
    if len(references) != len(outputs):
        return None
    scores = [
        score(_with_alpha(a, b.shape[2]), _with_alpha(b, a.shape[2]))
        for a, b in zip(references, outputs, strict=True)
    ]
    return sum(scores) / len(scores)


def _with_alpha(image: npt.NDArray[np.uint8], other_bands: int) -> npt.NDArray[np.uint8]:
    """An opaque alpha when only the other side has one (as the reference tool does)."""
    if image.shape[2] == 3 and other_bands == 4:
        alpha = np.full((*image.shape[:2], 1), 255, dtype=np.uint8)
        return np.concatenate([image, alpha], axis=2)
    return image


def curve(points: Sequence[SweepPoint], image_format: str, encoder: str) -> list[CurvePoint]:
    """The (mean score, total bytes) points of one encoder on one format."""
    found = [p.curve_point() for p in points if p.format == image_format and p.encoder == encoder]
    return [p for p in found if p is not None]


def pixpress_compressor(executor: ProcessPoolExecutor, effort: int | None = None) -> Compressor:
    """pixpress's in-process pipeline in `executor` (initialised workers)."""

    def compress(
        image_format: str, images: Sequence[InputImage], quality: int, out: Path
    ) -> dict[str, Path]:
        out.mkdir(parents=True, exist_ok=True)
        futures = {
            image.name: executor.submit(
                compress_pixpress,
                str(image.path),
                str(out / f"{image.name}{EXTENSIONS[image_format]}"),
                quality,
                effort,
            )
            for image in images
        }
        outputs: dict[str, Path] = {}
        for image in images:
            outcome = futures[image.name].result()
            if outcome.error:
                continue
            outputs[image.name] = (
                image.path
                if outcome.kept_original
                else out / f"{image.name}{EXTENSIONS[image_format]}"
            )
        return outputs

    return compress


def batch_jobs(images: Sequence[InputImage], image_format: str, out: Path) -> list[BatchJob]:
    return [
        BatchJob(
            image.name, image.path, out / f"{image.name}{EXTENSIONS[image_format]}", image.format
        )
        for image in images
    ]


def new_pool(workers: int, pixpress: bool) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initialise_pixpress if pixpress else None,
    )


def run_sweep(
    inputs: Mapping[str, Sequence[InputImage]],
    encoders: Mapping[str, tuple[Compressor, frozenset[str]]],
    qualities: Sequence[int],
    scratch: Path,
    scorer: ProcessPoolExecutor,
    log: Callable[[str], None],
) -> list[SweepPoint]:
    """Every encoder (name -> (compress, formats it covers)) at every quality, scored."""
    points: list[SweepPoint] = []
    for image_format, images in inputs.items():
        if not images:
            continue
        for encoder, (compress, formats) in encoders.items():
            if image_format not in formats:
                continue
            for quality in qualities:
                out = scratch / encoder / image_format / f"q{quality}"
                outputs = compress(image_format, images, quality, out)
                points.append(_scored(image_format, encoder, quality, images, outputs, scorer))
            log(f"  sweep {image_format} {encoder}: done")
    return points


def _scored(
    image_format: str,
    encoder: str,
    quality: int,
    images: Sequence[InputImage],
    outputs: Mapping[str, Path],
    scorer: ProcessPoolExecutor,
) -> SweepPoint:
    futures = {
        image.name: scorer.submit(
            score_frames if image.frames > 1 else score_file,
            str(image.path),
            str(outputs[image.name]),
        )
        for image in images
        if image.name in outputs and outputs[image.name] != image.path
    }
    scores: dict[str, float | None] = {}
    for image in images:
        if image.name not in outputs:
            continue
        scores[image.name] = (
            IDENTICAL if outputs[image.name] == image.path else futures[image.name].result()
        )
    # Every image must be there and scored, or the point would compare different sets.
    complete = len(scores) == len(images) and all(s is not None for s in scores.values())
    valid = [s for s in scores.values() if s is not None]
    return SweepPoint(
        format=image_format,
        encoder=encoder,
        quality=quality,
        images=len(images),
        input_bytes=sum(image.size for image in images),
        output_bytes=sum(outputs[name].stat().st_size for name in scores) if complete else 0,
        mean_score=sum(valid) / len(valid) if complete and valid else None,
        scores=scores,
    )


@dataclass
class EqualScore:
    """One format: each encoder's bytes at equal mean scores, and BD-rates of pixpress."""

    format: str
    input_bytes: int
    bytes_at: dict[str, dict[float, float | None]]
    """encoder -> score S -> interpolated total bytes (None outside its sweep)."""
    bd_rates: dict[str, float | None]
    """'<test> vs <reference>' -> BD-rate."""


def equal_score_table(
    points: Sequence[SweepPoint],
    comparisons: Sequence[tuple[str, str]],
    scores: Sequence[float] = EQUAL_SCORES,
) -> list[EqualScore]:
    """Per format: bytes at each score for every encoder, and BD-rate of each (test, reference)."""
    table: list[EqualScore] = []
    for image_format in dict.fromkeys(p.format for p in points):
        encoders = list(dict.fromkeys(p.encoder for p in points if p.format == image_format))
        input_bytes = int(median(p.input_bytes for p in points if p.format == image_format))
        bytes_at = {
            encoder: {s: bytes_at_score(curve(points, image_format, encoder), s) for s in scores}
            for encoder in encoders
        }
        rates = {
            f"{test} vs {reference}": bd_rate(
                curve(points, image_format, test), curve(points, image_format, reference)
            )
            for test, reference in comparisons
            if test in encoders and reference in encoders
        }
        table.append(EqualScore(image_format, input_bytes, bytes_at, rates))
    return table
