"""What `pixpress compress` tells people (stderr) and scripts (--json lines on stdout)."""

from __future__ import annotations

import enum
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from pixpress._errors import PixpressError
from pixpress._outputs import OutputError
from pixpress._plan import Job, Skipped
from pixpress._results import CompressResult

__all__ = ["Reporter", "Summary", "Verbosity", "error_parts", "result_fields"]

WIDE = 160


class Verbosity(enum.IntEnum):
    QUIET = 0
    """Errors only."""
    NORMAL = 1
    """Errors, the progress bar on a terminal, the summary."""
    VERBOSE = 2
    """Also a line per file compressed or skipped."""


@dataclass
class Summary:
    """Totals: bytes and saving over the files compressed; failures are listed apart.

    With --target-score it shows the lowest and median score reached, with --max-bytes how
    many outputs are over the budget (when nothing fits, the smallest one tried comes back).
    """

    compressed: int = 0
    kept: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    failures: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    budgets: int = 0
    over_budget: int = 0
    skipped: int = 0
    title: str = "pixpress compress"

    def add(self, result: CompressResult) -> None:
        self.compressed += 1
        self.kept += result.kept_original
        self.bytes_in += result.input_size
        self.bytes_out += result.output_size
        if result.score is not None:
            self.scores.append(result.score)
        if result.budget_met is not None:
            self.budgets += 1
            self.over_budget += not result.budget_met

    @property
    def done(self) -> int:
        return self.compressed + len(self.failures)

    def table(self) -> Table:
        saved = 1 - self.bytes_out / self.bytes_in if self.bytes_in else 0.0
        table = Table(title=self.title)
        cells = {
            "files": str(self.done),
            "compressed": str(self.compressed),
            "kept original": str(self.kept),
            "bytes in": f"{self.bytes_in:,}",
            "bytes out": f"{self.bytes_out:,}",
            "saved": f"{saved:.1%}",
        }
        if self.scores:
            cells["lowest score"] = f"{min(self.scores):.1f}"
            cells["median score"] = f"{statistics.median(self.scores):.1f}"
        if self.budgets:
            cells["over budget"] = str(self.over_budget)
        cells["failed"] = str(len(self.failures))
        if self.skipped:
            cells["skipped"] = str(self.skipped)
        for column in cells:
            table.add_column(column, justify="right")
        table.add_row(*cells.values())
        return table


def error_parts(error: Exception) -> tuple[str, str]:
    """(CODE, message): a gRPC status name, or IO_ERROR for local files."""
    if isinstance(error, PixpressError):
        return error.code.name, error.message
    if isinstance(error, OutputError):
        return "IO_ERROR", error.reason
    if isinstance(error, OSError):
        return "IO_ERROR", error.strerror or str(error)
    return type(error).__name__, str(error)


def result_fields(job: Job, result: CompressResult) -> dict[str, Any]:
    """One file's result as plain JSON values (the --json line)."""
    return {
        "input": job.input_name,
        "output": job.output_name,
        "format": result.format,
        "input_size": result.input_size,
        "output_size": result.output_size,
        "saved_bytes": result.saved_bytes,
        "saving": round(result.saved_ratio, 6),
        "quality": result.quality,
        "effort": result.effort,
        "score": result.score,
        "budget_met": result.budget_met,
        "kept_original": result.kept_original,
        "kept_original_reason": result.kept_original_reason,
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "action_id": result.action_id,
        "error": None,
    }


def _detail_line(job: Job, result: CompressResult) -> str:
    """`IN -> OUT: FORMAT A -> B bytes (S% saved), quality Q, ...` for --verbose."""
    line = (
        f"{job.input_name} -> {job.output_name}: {result.format} {result.input_size:,} -> "
        f"{result.output_size:,} bytes ({result.saved_ratio:.1%} saved), quality {result.quality}"
    )
    if result.effort:
        line += f", effort {result.effort}"
    if result.score is not None:
        line += f", score {result.score:.2f}"
    if result.budget_met is not None:
        line += ", budget met" if result.budget_met else ", over budget"
    if result.kept_original:
        line += f", kept original: {result.kept_original_reason}"
    return line


class Reporter:
    """Routes each event of a run: failures always to stderr, the rest by verbosity; with
    `as_json`, a JSON line per file (compressed, failed or skipped for its output) on stdout."""

    def __init__(self, summary: Summary, verbosity: Verbosity, as_json: bool) -> None:
        self.summary = summary
        self.verbosity = verbosity
        self.as_json = as_json
        self.stderr = Console(stderr=True)
        if not self.stderr.is_terminal and "COLUMNS" not in os.environ:
            self.stderr.width = WIDE  # a log file: rich's 80 columns would clip the headers

    def _say(self, line: str, stream: TextIO | None = None) -> None:
        print(line, file=stream or sys.stderr, flush=True)

    def _json(self, fields: dict[str, Any]) -> None:
        if self.as_json:
            self._say(json.dumps(fields, separators=(",", ":")), sys.stdout)

    def compressed(self, job: Job, result: CompressResult) -> None:
        self.summary.add(result)
        self._json(result_fields(job, result))
        if self.verbosity >= Verbosity.VERBOSE:
            self._say(_detail_line(job, result))

    def failed(self, job: Job, error: Exception) -> None:
        code, message = error_parts(error)
        name = str(error.path) if isinstance(error, OutputError) else job.input_name
        line = f"{name}: {code}: {message}"
        self.summary.failures.append(line)
        action_id = error.action_id if isinstance(error, PixpressError) else ""
        self._json(
            {
                "input": job.input_name,
                "output": job.output_name,
                "action_id": action_id,
                "error": {"code": code, "message": message},
            }
        )
        self._say(line)

    def skipped(self, item: Skipped) -> None:
        self.summary.skipped += 1
        if item.destination is not None:
            self._json(
                {"input": str(item.path), "output": str(item.destination), "skipped": item.reason}
            )
        if self.verbosity >= Verbosity.VERBOSE:
            where = f" ({item.destination})" if item.destination is not None else ""
            self._say(f"{item.path}: skipped: {item.reason}{where}")

    def finish(self, total: int, interrupted: bool = False) -> None:
        """The summary table on stderr (not with --quiet); then, when interrupted, a line
        saying how far it got (even with --quiet: the run did not finish)."""
        if self.verbosity >= Verbosity.NORMAL:
            self.stderr.print(self.summary.table())
        if interrupted:
            self._say(f"pixpress: interrupted after {self.summary.done} of {total} files")
