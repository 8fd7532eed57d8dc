"""Entry points the worker processes call: initialise, probe (header only) and compress.

compress runs named short steps: sniff, probe + limits, load (decode), encode, post-pass,
guard. Loading is lazy and sequential, so most pixel decoding happens inside "encode".
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pixpress_server.errors import InternalFailure, PixpressServerError
from pixpress_server.processing import apng, vips
from pixpress_server.processing.candidates import (
    FIRST_GUESS_ANCHORS,
    Candidates,
    scorable,
    top_quality,
)
from pixpress_server.processing.encoders import ENCODERS, EncodeRequest, KeepOriginal
from pixpress_server.processing.formats import SNIFF_BYTES, sniff, spec_for
from pixpress_server.processing.limits import check_limits
from pixpress_server.processing.metadata import NORMAL_ORIENTATION, MetadataPolicy
from pixpress_server.processing.model import (
    DEFAULT_THREADS_PER_WORKER,
    MAX_QUALITY,
    MIN_QUALITY,
    CompressOptions,
    CompressOutcome,
    ImageFormat,
    ImageHeader,
    Limits,
    StageReport,
)
from pixpress_server.processing.postpass import POSTPASSES, PostPassContext
from pixpress_server.processing.score import SAMPLED_MARGIN
from pixpress_server.processing.search import (
    IDENTICAL,
    JPEG_LIKE,
    SearchResult,
    first_guess,
    search_budget,
    search_target,
)

_T = TypeVar("_T")

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_BYTES_PER_SAMPLE = {
    "uchar": 1,
    "char": 1,
    "ushort": 2,
    "short": 2,
    "uint": 4,
    "int": 4,
    "float": 4,
}


def initialise(threads: int = DEFAULT_THREADS_PER_WORKER) -> None:
    """Once per worker process, before any image: `threads` for libvips and for oxipng."""
    # oxipng's thread pool (rayon) reads this when it first starts.
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    vips.initialise(threads)


def _read_head(source: Path) -> bytes:
    try:
        with source.open("rb") as file:
            return file.read(SNIFF_BYTES)
    except OSError as error:
        raise InternalFailure("cannot read the uploaded image", detail=repr(error)) from error


def _header(image: vips.VipsImage) -> ImageHeader:
    frames = image.frames
    return ImageHeader(
        format=image.format,
        width=image.width,
        height=image.height // frames,
        frames=frames,
        bands=image.bands,
        chroma_subsampled=image.get_str("jpeg-chroma-subsample", "4:4:4") != "4:4:4",
        sample_bytes=_BYTES_PER_SAMPLE.get(image.band_format, 1),
        orientation=image.get_int("orientation", NORMAL_ORIENTATION),
    )


def _probe_image(source: Path, limits: Limits) -> tuple[vips.VipsImage, ImageHeader]:
    image_format = sniff(_read_head(source))
    image = vips.load(source, image_format)
    header = _header(image)
    check_limits(header, limits)
    return image, header


def probe(source: Path, limits: Limits) -> ImageHeader:
    """Read the header only (no pixel decode) and check it against the limits.

    Raises:
        InvalidInput: unsupported, corrupt, or above a limit.
    """
    return _run(lambda: _probe_image(source, limits)[1])


@dataclass(slots=True)
class _Stages:
    reports: list[StageReport]
    started: float

    def done(self, name: str, output_bytes: int) -> None:
        now = time.perf_counter()
        self.reports.append(StageReport(name, output_bytes, (now - self.started) * 1000))
        self.started = now


def compress(
    source: Path, destination: Path, options: CompressOptions, limits: Limits
) -> CompressOutcome:
    """Compress `source` into `destination` in the same format.

    When the outcome has kept_original=True, `destination` is not written: send the source.

    Raises:
        InvalidInput: unsupported, corrupt or truncated input, or above a limit.
        Unencodable: readable here but not writable (HEVC HEIF).
        InternalFailure: anything unexpected.
    """
    return _run(lambda: _compress(source, destination, options, limits))


def _run(step: Callable[[], _T]) -> _T:
    try:
        return step()
    except PixpressServerError:
        raise
    except Exception as error:
        logger.exception("unexpected failure in the processing pipeline")
        raise InternalFailure(
            "internal error while processing the image", detail=repr(error)
        ) from error


def _compress(
    source: Path, destination: Path, options: CompressOptions, limits: Limits
) -> CompressOutcome:
    stages = _Stages([], time.perf_counter())
    policy = MetadataPolicy.from_options(options)

    # load: header only; pixels are decoded as the encoder pulls them.
    image, header = _probe_image(source, limits)
    data = source.read_bytes()
    header = apng.check(data, header, limits)  # libvips sees only an APNG's first frame
    orientation = header.orientation
    if header.frames == 1 and policy.rotate_pixels(
        orientation, keeps_tag=spec_for(header.format).keeps_orientation_tag
    ):
        image = image.in_memory().autorotated()
    stages.done("decode", header.pixels * header.frames * header.decoded_pixel_bytes)

    context = PostPassContext(policy, orientation, options.effort)
    if options.target_score is not None or options.max_bytes is not None:
        return _searched(image, data, destination, options, stages, header, context)

    def outcome(output_size: int, reason: str = "") -> CompressOutcome:
        return CompressOutcome(
            header=header,
            input_size=len(data),
            output_size=output_size,
            quality=options.quality,
            kept_original=bool(reason),
            kept_original_reason=reason,
            stages=tuple(stages.reports),
            effort=options.effort,
        )

    request = EncodeRequest(image, data, options.quality, policy, options.effort)
    encoded = ENCODERS[header.format](request)
    if isinstance(encoded, KeepOriginal):
        stages.done("encode", len(data))
        return outcome(len(data), encoded.reason)
    output = encoded.data
    stages.done("encode", len(output))

    postpass = POSTPASSES.get(header.format)
    if postpass is not None and encoded.postpass:
        output = postpass(output, context)
        stages.done("postpass", len(output))

    # guard: never larger (and an unchanged file is no compression either).
    if len(output) >= len(data):
        return outcome(len(data), "not smaller")
    try:
        destination.write_bytes(output)
    except OSError as error:
        raise InternalFailure("cannot write the compressed image", detail=repr(error)) from error
    logger.debug("%s %s: %d -> %d bytes", header.format, encoded.mode, len(data), len(output))
    return outcome(len(output))


def _searched(
    image: vips.VipsImage,
    data: bytes,
    destination: Path,
    options: CompressOptions,
    stages: _Stages,
    header: ImageHeader,
    context: PostPassContext,
) -> CompressOutcome:
    """target_score and/or max_bytes: a bounded search over quality (search.py), then the
    post-pass on the chosen candidate and the never-larger guard."""
    target = options.target_score
    scored = target is not None and scorable(header.format, data, header.width, header.height)
    candidates = Candidates(
        image.in_memory(),  # decoded once, encoded at every quality tried
        data,
        context.policy,
        options.effort,
        context,
        scored=scored,
        sized_after_postpass=options.max_bytes is not None,
    )
    result = _search(candidates, options, header.format, data, scored=scored)
    stages.reports.extend(candidates.stages)
    stages.started = time.perf_counter()
    output = candidates.final(result.chosen.quality)
    if output is not None and len(output) != result.chosen.size:
        stages.done("postpass", len(output))
    reason = ""
    if output is None:
        reason = "original chosen"
    elif len(output) >= len(data):
        reason = "not smaller"
    if reason:
        output_size = len(data)
    else:
        assert output is not None
        output_size = len(output)
        try:
            destination.write_bytes(output)
        except OSError as error:
            raise InternalFailure(
                "cannot write the compressed image", detail=repr(error)
            ) from error
    score = None
    if target is not None:
        score = IDENTICAL if reason or not scored else result.chosen.score
    return CompressOutcome(
        header=header,
        input_size=len(data),
        output_size=output_size,
        quality=result.chosen.quality,
        kept_original=bool(reason),
        kept_original_reason=reason,
        stages=tuple(stages.reports),
        effort=options.effort,
        score=score,
        budget_met=None if options.max_bytes is None else output_size <= options.max_bytes,
    )


def _search(
    candidates: Candidates,
    options: CompressOptions,
    image_format: ImageFormat,
    data: bytes,
    *,
    scored: bool,
) -> SearchResult:
    """The target search first (if asked), then, if its choice is over the budget, the
    budget search below it: max_bytes is the harder limit."""
    top = top_quality(image_format, data)
    if options.target_score is None:
        top = min(top, options.quality)
    elif scored:
        target = options.target_score + SAMPLED_MARGIN
        start = first_guess(target, FIRST_GUESS_ANCHORS.get(image_format, JPEG_LIKE))
        found = search_target(candidates, target, MIN_QUALITY, top, start=start)
        top = found.chosen.quality
    else:  # no quality scale to walk: lossless reaches any target
        trial = candidates(MAX_QUALITY)
        found = SearchResult(trial, True, (trial,))
    budget = options.max_bytes
    if options.target_score is not None and (budget is None or found.chosen.size <= budget):
        return found
    assert budget is not None
    return search_budget(candidates, budget, MIN_QUALITY, top)
