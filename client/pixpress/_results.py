"""Typed values returned by the SDK; plain dataclasses, free of protobuf types."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CompressResult", "Stage"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One pipeline stage on the server: "decode", "encode" or "postpass"."""

    name: str
    output_bytes: int
    """Size of the image after this stage, in bytes (0 for decode)."""
    milliseconds: float


@dataclass(frozen=True, slots=True)
class CompressResult:
    """A compressed image and what the server did to it.

    `format` is one of "jpeg", "png", "webp", "gif", "avif", "heif", "tiff" (the input's own
    format). When `kept_original` is true, `data` is the input unchanged and
    `kept_original_reason` says why. `quality` is the quality applied: the one asked for
    (80 by default), or the one the server chose for `target_score` or `max_bytes`.
    """

    data: bytes = field(repr=False)
    format: str
    input_size: int
    output_size: int
    width: int
    height: int
    frames: int
    kept_original: bool
    kept_original_reason: str
    quality: int
    stages: tuple[Stage, ...] = ()
    action_id: str = ""
    """The action recording this call (see `Client.actions`); "" from an older server."""
    output_asset_id: str = ""
    """The stored output asset, when `store_output` was asked; else ""."""
    effort: int = 0
    """The effort applied, 1-10 (5 by default); 0 from a server older than efforts."""
    score: float | None = None
    """The SSIMULACRA2 score reached, when `target_score` was asked (it may fall short of
    the target when no quality reaches it); else None."""
    budget_met: bool | None = None
    """Whether `output_size` is at most `max_bytes`, when a budget was asked; else None."""

    @property
    def ratio(self) -> float:
        """Output size over input size (1.0 for an empty input)."""
        return self.output_size / self.input_size if self.input_size else 1.0

    @property
    def saved_ratio(self) -> float:
        """Fraction of the input saved: 0.25 means the output is 25% smaller."""
        return 1.0 - self.ratio

    @property
    def saved_bytes(self) -> int:
        """Bytes saved (never negative: the server never returns a larger image)."""
        return self.input_size - self.output_size

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write `data` to `path` and return it as a Path."""
        target = Path(path)
        target.write_bytes(self.data)
        return target
