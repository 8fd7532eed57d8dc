"""Plain values passed between the servicer and the worker processes (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ImageFormat(StrEnum):
    """Formats pixpress compresses; the output always has the input's format."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    GIF = "gif"
    AVIF = "avif"
    HEIF = "heif"
    TIFF = "tiff"


DEFAULT_QUALITY = 80
# Threads each worker gives libvips and oxipng. With one worker per core, one thread each
# lets the pool scale linearly and never oversubscribes the cores; raise it for the latency
# of single huge images on an idle server.
DEFAULT_THREADS_PER_WORKER = 1
MIN_QUALITY = 1
MAX_QUALITY = 100
# Effort: 1 spends the least CPU per megapixel (throughput), 10 the most (the last bytes).
# What each level does per format is in the encoders; the default is the benchmark's pick.
MIN_EFFORT = 1
MAX_EFFORT = 10
DEFAULT_EFFORT = 5
# target_score is a SSIMULACRA2 score (100: identical; 90 visually lossless; 70 good).
MIN_TARGET_SCORE = 30.0
MAX_TARGET_SCORE = 95.0


@dataclass(frozen=True, slots=True)
class CompressOptions:
    """What the client asked for, already validated.

    `quality` (1..100) is what is applied unless `target_score` (30..95) asks the search for
    the cheapest setting that reaches a SSIMULACRA2 score instead; `max_bytes` asks for the
    best quality whose output fits. `effort` (1..10) trades CPU for bytes.
    """

    quality: int = DEFAULT_QUALITY
    keep_metadata: bool = False
    effort: int = DEFAULT_EFFORT
    target_score: float | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits checked from the header, before any pixel is decoded."""

    max_pixels: int
    max_frames: int


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What the header says, read without decoding pixels."""

    format: ImageFormat
    width: int
    height: int
    frames: int
    bands: int
    # JPEG only: chroma stored at reduced resolution (4:2:0/4:2:2). It halves mozjpeg's
    # coefficient buffers; False (the conservative default) for everything else.
    chroma_subsampled: bool = False
    # Bytes of one band of a decoded pixel: 2 for 16-bit images (libvips "ushort").
    sample_bytes: int = 1
    # EXIF orientation (1: as stored). Formats without an orientation tag of their own
    # have their pixels rotated upright, which holds a decoded copy in memory.
    orientation: int = 1

    @property
    def pixels(self) -> int:
        """Pixels of one frame."""
        return self.width * self.height

    @property
    def decoded_pixel_bytes(self) -> int:
        """Bytes of one decoded pixel (all bands)."""
        return self.bands * self.sample_bytes


@dataclass(frozen=True, slots=True)
class StageReport:
    """One pipeline stage: its name ("decode", "encode", "postpass"), bytes after it, time."""

    name: str
    output_bytes: int
    milliseconds: float


@dataclass(frozen=True, slots=True)
class CompressOutcome:
    """The result of one compression. When kept_original is true the output is the input."""

    header: ImageHeader
    input_size: int
    output_size: int
    quality: int
    kept_original: bool
    kept_original_reason: str
    stages: tuple[StageReport, ...]
    effort: int = DEFAULT_EFFORT
    score: float | None = None  # SSIMULACRA2 reached, when a target_score was searched for
    budget_met: bool | None = None  # whether the output fits max_bytes, when one was asked
