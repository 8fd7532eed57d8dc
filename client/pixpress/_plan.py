"""Which files the CLI sends and where each output goes, decided before any request."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "IMAGE_EXTENSIONS",
    "STDIO",
    "Existing",
    "Job",
    "Plan",
    "PlanError",
    "Skipped",
    "min_sibling",
    "plan",
    "plan_jobs",
    "walk",
    "walk_images",
]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".heif", ".heic", ".tif", ".tiff"}
)
"""Extensions picked up when walking a directory (any case); files named explicitly are
always sent, whatever their extension."""

STDIO = "-"
"""As an input: read standard input; as -o: write standard output (`./-` names a file)."""


class PlanError(Exception):
    """The arguments cannot be turned into a safe plan (a usage error: exit 2)."""


class Existing(enum.StrEnum):
    """What to do with outputs that already exist."""

    REFUSE = "refuse"
    OVERWRITE = "overwrite"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Job:
    """One file to compress and where its output goes."""

    source: Path
    destination: Path
    in_place: bool = False
    from_stdin: bool = False
    to_stdout: bool = False

    @property
    def input_name(self) -> str:
        return "<stdin>" if self.from_stdin else str(self.source)

    @property
    def output_name(self) -> str:
        return "<stdout>" if self.to_stdout else str(self.destination)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file the run leaves alone, and why ("not an image", "symlink", "output exists"...)."""

    path: Path
    reason: str
    destination: Path | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The jobs to run and what was skipped on the way (listed with --verbose, counted)."""

    jobs: list[Job]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def output_directories(self) -> list[Path]:
        """Every directory an output goes into, each once, in order."""
        seen: dict[str, Path] = {}
        for job in self.jobs:
            if not job.to_stdout:
                seen.setdefault(os.path.abspath(job.destination.parent), job.destination.parent)
        return list(seen.values())


def min_sibling(path: Path) -> Path:
    """photo.jpg -> photo.min.jpg, next to it."""
    return path.with_name(f"{path.stem}.min{path.suffix}")


def _same_file(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b) or (
        a.exists() and b.exists() and os.path.samefile(a, b)
    )


def walk(top: Path, skip: Path | None = None) -> Iterator[Path | Skipped]:
    """Below `top`, sorted: regular files with an image extension, and a Skipped for every
    other entry (symlinks are never followed, to files or directories).

    `skip` (the output directory) is pruned silently so outputs are never read back as inputs.
    """
    skip_abs = os.path.abspath(skip) if skip is not None else None
    for root, dirs, files in os.walk(top):
        kept = []
        for name in sorted(dirs):
            path = Path(root, name)
            if os.path.abspath(path) == skip_abs:
                continue
            if path.is_symlink():
                yield Skipped(path, "symlink")
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = Path(root, name)
            if path.is_symlink():
                yield Skipped(path, "symlink")
            elif not path.is_file():
                yield Skipped(path, "not a regular file")
            elif path.suffix.lower() not in IMAGE_EXTENSIONS:
                yield Skipped(path, "not an image")
            else:
                yield path


def walk_images(top: Path, skip: Path | None = None) -> Iterator[Path]:
    """The image files of `walk`, without what it skips."""
    return (found for found in walk(top, skip) if isinstance(found, Path))


def plan_jobs(inputs: Sequence[Path], output: Path | None, *, in_place: bool = False) -> list[Job]:
    """`plan` of paths, overwriting existing outputs: only the jobs."""
    return plan(inputs, output, in_place=in_place, existing=Existing.OVERWRITE).jobs


def plan(
    inputs: Sequence[str | Path],
    output: str | Path | None,
    *,
    in_place: bool = False,
    existing: Existing = Existing.REFUSE,
) -> Plan:
    """Turn the CLI's inputs and -o into jobs.

    - one file, no -o: write NAME.min.EXT next to it;
    - one file, -o FILE: write FILE (-o an existing directory, or text ending in "/": write
      into it, creating it if missing);
    - several inputs or a directory: -o DIR is required; each directory's tree is mirrored
      below DIR (its contents, not the directory itself), each file goes to DIR/NAME;
    - --in-place: replace each input (no -o);
    - "-" (text, the only input) reads standard input and writes standard output unless -o
      names a file, as pngquant does; -o "-" writes one result to standard output.

    Existing outputs are refused (PlanError naming them), overwritten or skipped, as asked.

    Raises:
        PlanError: missing input, no -o where one is needed, two inputs onto one output,
            an output that is an input without --in-place, or an existing output refused.
    """
    if in_place and output is not None:
        raise PlanError("--in-place and -o/--output cannot be combined")
    if any(_is_stdio(path) for path in inputs):
        result = _plan_stdin(inputs, output, in_place=in_place)
    else:
        result = _plan_paths([Path(p) for p in inputs], output, in_place=in_place)
    _check_unique(result.jobs)
    return _settle_existing(result, existing)


def _is_stdio(value: str | Path | None) -> bool:
    return isinstance(value, str) and value == STDIO


def _is_directory_text(value: str | Path) -> bool:
    return isinstance(value, str) and value.endswith(("/", os.sep))


def _plan_stdin(inputs: Sequence[str | Path], output: str | Path | None, *, in_place: bool) -> Plan:
    if len(inputs) != 1:
        raise PlanError(f"'{STDIO}' (standard input) must be the only input")
    if in_place:
        raise PlanError(f"'{STDIO}' (standard input) cannot be compressed --in-place")
    stdin = Path(STDIO)
    if output is None or _is_stdio(output):
        return Plan([Job(stdin, stdin, from_stdin=True, to_stdout=True)])
    if _is_directory_text(output) or Path(output).is_dir():
        raise PlanError(f"{output}: standard input has no name: give -o a file name")
    return Plan([Job(stdin, Path(output), from_stdin=True)])


def _plan_paths(inputs: Sequence[Path], output: str | Path | None, *, in_place: bool) -> Plan:
    for path in inputs:
        if not path.exists():
            raise PlanError(f"{path}: no such file or directory")
        if not (path.is_file() or path.is_dir()):
            raise PlanError(f"{path}: not a regular file or directory")
    single_file = len(inputs) == 1 and inputs[0].is_file()
    to_stdout = _is_stdio(output)
    if to_stdout and not single_file:
        raise PlanError(f"-o {STDIO} (standard output) takes one input file")
    skipped: list[Skipped] = []
    if in_place:
        jobs = [Job(src, src, in_place=True) for src, _ in _expand(inputs, None, skipped)]
    elif single_file:
        source = inputs[0]
        if output is None:
            jobs = [Job(source, min_sibling(source))]
        elif to_stdout:
            jobs = [Job(source, Path(STDIO), to_stdout=True)]
        elif _is_directory_text(output) or Path(output).is_dir():
            _check_directory(Path(output))
            jobs = [Job(source, Path(output) / source.name)]
        else:
            jobs = [Job(source, Path(output))]
    else:
        if output is None:
            raise PlanError("several inputs or a directory need -o DIR (or --in-place)")
        directory = Path(output)
        _check_directory(directory)
        jobs = [Job(src, directory / rel) for src, rel in _expand(inputs, directory, skipped)]
    return Plan(jobs, skipped)


def _check_directory(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise PlanError(f"{directory}: exists and is not a directory")


def _expand(
    inputs: Sequence[Path], output: Path | None, skipped: list[Skipped]
) -> Iterator[tuple[Path, Path]]:
    """(source, path relative to the output directory) for every file to send."""
    for path in inputs:
        if path.is_dir():
            for found in walk(path, skip=output):
                if isinstance(found, Skipped):
                    skipped.append(found)
                else:
                    yield found, found.relative_to(path)
        else:
            yield path, Path(path.name)


def _check_unique(jobs: Sequence[Job]) -> None:
    seen: dict[str, Path] = {}
    for job in jobs:
        if job.to_stdout:
            continue
        if not job.in_place and not job.from_stdin and _same_file(job.source, job.destination):
            raise PlanError(f"{job.source}: output would overwrite the input (use --in-place)")
        key = os.path.abspath(job.destination)
        if key in seen:
            raise PlanError(f"{seen[key]} and {job.source} would both be written to {key}")
        seen[key] = job.source


def _exists(job: Job) -> bool:
    return not (job.in_place or job.to_stdout) and os.path.lexists(job.destination)


def _settle_existing(planned: Plan, existing: Existing) -> Plan:
    """Refuse, keep or skip the jobs whose output already exists (pngquant's --force)."""
    if existing is Existing.OVERWRITE:
        return planned
    there = [job for job in planned.jobs if _exists(job)]
    if not there:
        return planned
    if existing is Existing.REFUSE:
        more = f" (and {len(there) - 1} more)" if len(there) > 1 else ""
        raise PlanError(
            f"{there[0].destination}: output exists{more}; use --force to overwrite"
            " or --skip-existing to skip"
        )
    skipped = [Skipped(job.source, "output exists", job.destination) for job in there]
    refused = set(there)
    jobs = [job for job in planned.jobs if job not in refused]
    return replace(planned, jobs=jobs, skipped=[*planned.skipped, *skipped])
