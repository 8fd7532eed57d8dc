"""Rich output: a progress bar while the run goes, readable tables at the end."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks.report import (
    Results,
    big_lines,
    compression_lines,
    latency_lines,
    target_lines,
    throughput_lines,
)


def progress_bar(console: Console) -> Progress:
    """The run's progress bar (description = the step running now)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _rich_table(title: str, markdown_lines: Sequence[str]) -> Table | None:
    rows = [line for line in markdown_lines if line.startswith("|")]
    if len(rows) < 3:
        return None
    headers = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table = Table(title=title, show_lines=False, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows[2:]:
        table.add_row(*(cell.strip() for cell in row.strip().strip("|").split(" | ")))
    return table


def print_results(console: Console, results: Results) -> None:
    """Targets, compression, throughput, latency and big-image tables."""
    sections = [
        ("Compression and SSIMULACRA2", compression_lines(results.compression)),
        ("Throughput (medians)", throughput_lines(results.throughput)),
        ("Latency per size class", latency_lines(results.throughput)),
        ("Big images", big_lines(results.big_images, results.concurrent)),
        ("Targets", target_lines(results.targets)),
    ]
    for title, lines in sections:
        table = _rich_table(title, lines)
        if table is not None:
            console.print(table)
    for line in big_lines(results.big_images, results.concurrent):
        if line and not line.startswith("|"):
            console.print(line)
