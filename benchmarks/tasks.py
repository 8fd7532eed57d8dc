"""The work one benchmark task does in a worker process (top-level, so spawn can pickle it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pixpress_server.errors import PixpressServerError
from pixpress_server.processing import pipeline
from pixpress_server.processing.model import CompressOptions

from benchmarks.corpus import BENCH_LIMITS


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What one compression produced; `error` is set (and sizes are 0) when it failed."""

    output_size: int
    kept_original: bool
    stages: tuple[tuple[str, int, float], ...] = ()
    """(stage name, bytes after it, milliseconds)."""
    error: str = ""


def initialise_pixpress() -> None:
    """ProcessPoolExecutor initializer: what a service worker does once at start."""
    pipeline.initialise()


def compress_pixpress(
    source: str, destination: str, quality: int, effort: int | None = None
) -> TaskOutcome:
    """pixpress's pipeline, as a service worker runs it: source file in, destination file out.

    When the original is kept, `destination` is not written. `effort` None is the default.
    """
    options = (
        CompressOptions(quality=quality)
        if effort is None
        else CompressOptions(quality=quality, effort=effort)
    )
    try:
        outcome = pipeline.compress(Path(source), Path(destination), options, BENCH_LIMITS)
    except PixpressServerError as error:
        return TaskOutcome(0, False, error=f"{type(error).__name__}: {error}")
    stages = tuple((s.name, s.output_bytes, s.milliseconds) for s in outcome.stages)
    return TaskOutcome(outcome.output_size, outcome.kept_original, stages)
