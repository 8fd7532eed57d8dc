"""Which files the CLI sends and where each output goes, decided before any request."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IMAGE_EXTENSIONS", "Job", "PlanError", "min_sibling", "plan_jobs", "walk_images"]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".heif", ".heic", ".tif", ".tiff"}
)
"""Extensions picked up when walking a directory (any case); files named explicitly are
always sent, whatever their extension."""


class PlanError(Exception):
    """The arguments cannot be turned into a safe plan (a usage error: exit 2)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One file to compress and where its output goes."""

    source: Path
    destination: Path
    in_place: bool = False


def min_sibling(path: Path) -> Path:
    """photo.jpg -> photo.min.jpg, next to it."""
    return path.with_name(f"{path.stem}.min{path.suffix}")


def _same_file(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b) or (
        a.exists() and b.exists() and os.path.samefile(a, b)
    )


def walk_images(top: Path, skip: Path | None = None) -> Iterator[Path]:
    """Regular files with an image extension below `top`, sorted, symlinks not followed.

    `skip` (the output directory) is pruned so outputs are never read back as inputs.
    """
    skip_abs = os.path.abspath(skip) if skip is not None else None
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if os.path.abspath(os.path.join(root, d)) != skip_abs)
        for name in sorted(files):
            path = Path(root, name)
            if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file() and not path.is_symlink():
                yield path


def plan_jobs(inputs: Sequence[Path], output: Path | None, *, in_place: bool = False) -> list[Job]:
    """Turn the CLI's inputs and -o into jobs.

    - one file, no -o: write NAME.min.EXT next to it;
    - one file, -o FILE: write FILE (-o an existing directory: write into it);
    - several inputs or a directory: -o DIR is required; each directory's tree is mirrored
      below DIR (its contents, not the directory itself), each file goes to DIR/NAME;
    - --in-place: replace each input (no -o).

    Raises:
        PlanError: missing input, no -o where one is needed, two inputs onto one output,
            or an output that is an input without --in-place.
    """
    for path in inputs:
        if not path.exists():
            raise PlanError(f"{path}: no such file or directory")
        if not (path.is_file() or path.is_dir()):
            raise PlanError(f"{path}: not a regular file or directory")
    if in_place and output is not None:
        raise PlanError("--in-place and -o/--output cannot be combined")

    single_file = len(inputs) == 1 and inputs[0].is_file()
    if in_place:
        jobs = [Job(src, src, in_place=True) for src, _ in _expand(inputs, None)]
    elif single_file:
        source = inputs[0]
        if output is None:
            destination = min_sibling(source)
        elif output.is_dir():
            destination = output / source.name
        else:
            destination = output
        jobs = [Job(source, destination)]
    else:
        if output is None:
            raise PlanError("several inputs or a directory need -o DIR (or --in-place)")
        if output.exists() and not output.is_dir():
            raise PlanError(f"{output}: exists and is not a directory")
        jobs = [Job(src, output / rel) for src, rel in _expand(inputs, output)]
    _check_unique(jobs)
    return jobs


def _expand(inputs: Sequence[Path], output: Path | None) -> Iterator[tuple[Path, Path]]:
    """(source, path relative to the output directory) for every file to send."""
    for path in inputs:
        if path.is_dir():
            for found in walk_images(path, skip=output):
                yield found, found.relative_to(path)
        else:
            yield path, Path(path.name)


def _check_unique(jobs: Sequence[Job]) -> None:
    seen: dict[str, Path] = {}
    for job in jobs:
        if not job.in_place and _same_file(job.source, job.destination):
            raise PlanError(f"{job.source}: output would overwrite the input (use --in-place)")
        key = os.path.abspath(job.destination)
        if key in seen:
            raise PlanError(f"{seen[key]} and {job.source} would both be written to {key}")
        seen[key] = job.source
