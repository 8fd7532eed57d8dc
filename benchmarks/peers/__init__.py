"""Peers the comparison benchmark runs side by side with pixpress: sharp, thumbor, lossless tools.

Each is optional: when it is missing, `missing()` says how to install it and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent.parent / ".peers"
"""Where `--install-peers` puts sharp (npm) and thumbor (its own venv); git-ignored."""


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One file to compress in its own format."""

    name: str
    input: Path
    output: Path
    format: str


@dataclass
class BatchResult:
    """A peer's pass over some jobs: bytes per job name (absent if it failed), CPU, wall."""

    sizes: dict[str, int]
    cpu_seconds: float
    wall_seconds: float
    errors: list[str] = field(default_factory=list)
