"""Compression and perceptual quality per format x quality, for pixpress and Pillow.

SSIMULACRA2 compares each output with its source as displayed (orientation applied, ICC
converted to sRGB, alpha blended by the scorer); a kept original scores 100 without decoding.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.corpus import CorpusImage
from benchmarks.modes import PassResult
from benchmarks.quality.display import as_displayed
from benchmarks.quality.ssimulacra2 import score

IDENTICAL = 100.0


def _opaque(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    alpha = np.full((*image.shape[:2], 1), 255, dtype=np.uint8)
    return np.concatenate([image, alpha], axis=2)


def score_file(source: str, output: str) -> float | None:
    """SSIMULACRA2 of `output` against `source`, both as displayed (None if not comparable).

    When only one side has alpha, the other gets an opaque one (as the reference tool does).
    """
    try:
        reference = as_displayed(Path(source))
        distorted = as_displayed(Path(output))
        if reference.shape[2] != distorted.shape[2]:
            if reference.shape[2] == 3:
                reference = _opaque(reference)
            else:
                distorted = _opaque(distorted)
        return score(reference, distorted)
    except ValueError:
        return None


@dataclass
class ImageScore:
    """One image through one encoder at one quality."""

    name: str
    format: str
    encoder: str
    quality: int
    input_size: int
    output_size: int
    kept_original: bool
    ssimulacra2: float | None
    stages: tuple[tuple[str, int, float], ...] = ()


@dataclass
class CompressionRow:
    """Aggregate of one format x quality x encoder."""

    format: str
    quality: int
    encoder: str
    images: int
    input_bytes: int
    output_bytes: int
    kept_original: int
    scored: int
    mean_ssimulacra2: float | None
    min_ssimulacra2: float | None
    stage_bytes: dict[str, int] = field(default_factory=dict)
    """Sum of bytes after each stage ("encode", "postpass"; postpass = encode when skipped)."""
    stage_milliseconds: dict[str, float] = field(default_factory=dict)
    """Sum of each stage's time."""

    @property
    def ratio(self) -> float:
        return self.output_bytes / self.input_bytes if self.input_bytes else 1.0


def collect_scores(
    images: Sequence[CorpusImage],
    passes: Sequence[tuple[str, PassResult]],
    processes: int,
    progress: Callable[[], None] | None = None,
) -> list[ImageScore]:
    """Score every (encoder, quality) pass's outputs in `processes` spawn processes.

    Identical outputs (same bytes) are scored once.
    """
    by_name = {image.name: image for image in images}
    results: list[ImageScore] = []
    jobs: dict[str, tuple[str, str]] = {}
    keys: list[str | None] = []
    for encoder, result in passes:
        for name, outcome in result.outcomes.items():
            if outcome.error:
                continue
            image = by_name[name]
            results.append(
                ImageScore(
                    name=name,
                    format=image.format,
                    encoder=encoder,
                    quality=result.quality,
                    input_size=image.size,
                    output_size=outcome.output_size,
                    kept_original=outcome.kept_original,
                    ssimulacra2=IDENTICAL if outcome.kept_original else None,
                    stages=outcome.stages,
                )
            )
            output = result.outputs.get(name)
            if outcome.kept_original or output is None:
                keys.append(None)
                continue
            key = f"{name}:{hashlib.sha256(output.read_bytes()).hexdigest()}"
            jobs.setdefault(key, (str(image.path), str(output)))
            keys.append(key)
    scores: dict[str, float | None] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, processes), mp_context=context) as executor:
        futures = {key: executor.submit(score_file, *job) for key, job in jobs.items()}
        for key, future in futures.items():
            scores[key] = future.result()
            if progress is not None:
                progress()
    for row, item in zip(results, keys, strict=True):
        if item is not None:
            row.ssimulacra2 = scores[item]
    return results


def scoring_jobs(passes: Sequence[tuple[str, PassResult]]) -> int:
    """Upper bound of SSIMULACRA2 computations `collect_scores` will run (for a progress bar)."""
    return sum(len(result.outputs) for _, result in passes)


def summarise(scores: Sequence[ImageScore]) -> list[CompressionRow]:
    """One row per (format, quality, encoder), sorted."""
    groups: dict[tuple[str, int, str], list[ImageScore]] = defaultdict(list)
    for item in scores:
        groups[(item.format, item.quality, item.encoder)].append(item)
    rows = []
    for (image_format, quality, encoder), items in sorted(groups.items()):
        values = [item.ssimulacra2 for item in items if item.ssimulacra2 is not None]
        stage_bytes: dict[str, int] = defaultdict(int)
        stage_ms: dict[str, float] = defaultdict(float)
        for item in items:
            after = {name: size for name, size, _ in item.stages}
            for name, _, milliseconds in item.stages:
                stage_ms[name] += milliseconds
            encoded = after.get("encode", item.input_size)
            stage_bytes["encode"] += encoded
            stage_bytes["postpass"] += after.get("postpass", encoded)
            stage_bytes["final"] += item.output_size
        rows.append(
            CompressionRow(
                format=image_format,
                quality=quality,
                encoder=encoder,
                images=len(items),
                input_bytes=sum(item.input_size for item in items),
                output_bytes=sum(item.output_size for item in items),
                kept_original=sum(item.kept_original for item in items),
                scored=len(values),
                mean_ssimulacra2=sum(values) / len(values) if values else None,
                min_ssimulacra2=min(values) if values else None,
                stage_bytes=dict(stage_bytes),
                stage_milliseconds=dict(stage_ms),
            )
        )
    return rows
