"""Candidate encodes for the quality search: one decoded source, encoded at a quality, sized
and (for target_score) scored with the in-worker SSIMULACRA2.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pixpress_server.processing import vips
from pixpress_server.processing.encoders import ENCODERS, EncodeRequest, KeepOriginal, jpeg
from pixpress_server.processing.encoders.webp import is_lossless_webp
from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import MAX_QUALITY, MIN_QUALITY, ImageFormat, StageReport
from pixpress_server.processing.postpass import POSTPASSES, PostPassContext
from pixpress_server.processing.score import MIN_SIZE, Scorer
from pixpress_server.processing.search import IDENTICAL, Anchors, Trial

# Formats whose quality scale a target_score search walks. The others (GIF, TIFF, HEIF and
# lossless WebP) are compressed losslessly instead, which reaches any target (score 100).
_SCORED_FORMATS = frozenset({ImageFormat.JPEG, ImageFormat.WEBP, ImageFormat.AVIF, ImageFormat.PNG})


# Where a format's quality scale reaches the sampled scores 70.5 and 80.5 (search.first_guess;
# JPEG-like when absent). Lossy WebP needed q 76 (median) for 70.5 and 87 for 80.5 on the
# corpus's 27 photos: replayed on their score curves, its own anchors took 2.74 encodes per
# WebP S 70 search instead of 3.22 with the JPEG ones.
FIRST_GUESS_ANCHORS: Mapping[ImageFormat, Anchors] = {ImageFormat.WEBP: ((70.5, 76), (80.5, 87))}


def scorable(image_format: ImageFormat, source: bytes, width: int, height: int) -> bool:
    """Whether a target_score search applies (lossy or palette re-encodes at a quality, on
    an image SSIMULACRA2 can score: at least MIN_SIZE pixels a side)."""
    if min(width, height) < MIN_SIZE:
        return False
    if image_format is ImageFormat.WEBP and is_lossless_webp(source):
        return False
    return image_format in _SCORED_FORMATS


def top_quality(image_format: ImageFormat, source: bytes) -> int:
    """The highest quality worth trying: a JPEG's own quality is where the encoder stops
    re-encoding (it optimises the source losslessly from there on)."""
    if image_format is ImageFormat.JPEG:
        return min(MAX_QUALITY, max(MIN_QUALITY, jpeg.source_quality(source) or MAX_QUALITY))
    return MAX_QUALITY


@dataclass(slots=True)
class _Candidate:
    output: bytes | None  # None: the original bytes
    postpass: bool
    pixels_kept: bool = False


@dataclass(slots=True)
class Candidates:
    """Encodes of one in-memory image at any quality, each once.

    `sized_after_postpass`: trials report bytes after the lossless post-pass (budget
    searches need the final size); otherwise the post-pass runs once, on the chosen one.
    """

    image: vips.VipsImage
    source: bytes
    policy: MetadataPolicy
    effort: int
    context: PostPassContext
    scored: bool
    sized_after_postpass: bool
    stages: list[StageReport] = field(default_factory=list)
    _encoded: dict[int, _Candidate] = field(default_factory=dict)
    _trials: dict[int, Trial] = field(default_factory=dict)
    _scorer: Scorer | None = None

    def __call__(self, quality: int) -> Trial:
        if quality in self._trials:  # a budget search after a target search
            return self._trials[quality]
        started = time.perf_counter()
        candidate = self._encode(quality)
        size = len(self.source) if candidate.output is None else len(candidate.output)
        score = self._score(candidate) if self.scored else None
        milliseconds = (time.perf_counter() - started) * 1000
        self.stages.append(StageReport(f"search_q{quality}", size, milliseconds))
        self._trials[quality] = Trial(quality, size, score)
        return self._trials[quality]

    def final(self, quality: int) -> bytes | None:
        """The chosen quality's bytes after the post-pass; None for the original."""
        candidate = self._encoded[quality]
        if candidate.output is None or not candidate.postpass or self.sized_after_postpass:
            return candidate.output
        postpass = POSTPASSES[self.image.format]
        return postpass(candidate.output, self.context)

    def _encode(self, quality: int) -> _Candidate:
        request = EncodeRequest(self.image, self.source, quality, self.policy, self.effort)
        encoded = ENCODERS[self.image.format](request)
        if isinstance(encoded, KeepOriginal):
            candidate = _Candidate(None, postpass=False)
        else:
            postpass = POSTPASSES.get(self.image.format)
            wants_postpass = postpass is not None and encoded.postpass
            output = encoded.data
            if wants_postpass and self.sized_after_postpass and postpass is not None:
                output = postpass(output, self.context)
            candidate = _Candidate(output, wants_postpass, encoded.pixels_kept)
        self._encoded[quality] = candidate
        return candidate

    def _score(self, candidate: _Candidate) -> float:
        output = candidate.output
        if output is None or candidate.pixels_kept or output == self.source:
            return IDENTICAL  # the original, or its lossless optimisation
        if self._scorer is None:
            self._scorer = Scorer(_array(vips.srgb8(self.image)))
        decoded = vips.load_buffer(output, self.image.format)
        return self._scorer.score(_array(vips.srgb8(decoded)))


def _array(pixels: vips.Pixels) -> np.ndarray[tuple[int, int, int], np.dtype[np.uint8]]:
    return np.frombuffer(pixels.data, dtype=np.uint8).reshape(
        pixels.height, pixels.width, pixels.bands
    )
