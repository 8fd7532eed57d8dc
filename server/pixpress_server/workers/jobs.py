"""The jobs a worker process runs: small picklable values naming files, never image bytes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pixpress_server.processing.model import CompressOptions, Limits


@dataclass(frozen=True, slots=True)
class ProbeJob:
    """Read the header of `source` (no pixel decoding) and check it against `limits`."""

    source: Path
    limits: Limits


@dataclass(frozen=True, slots=True)
class CompressJob:
    """Compress `source` into `destination` (left unwritten when the original is kept)."""

    source: Path
    destination: Path
    options: CompressOptions
    limits: Limits


Job = ProbeJob | CompressJob
