"""Lossless post-passes on encoded bytes: mozjpeg for JPEG, oxipng for PNG (and q 100 PNG).

A failing pass returns its input unchanged (and logs why): it can only ever cost bytes.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import mozjpeg_lossless_optimization
import oxipng

from pixpress_server.processing.metadata import MetadataPolicy, with_orientation
from pixpress_server.processing.model import DEFAULT_EFFORT, ImageFormat
from pixpress_server.processing.png_effort import oxipng_level
from pixpress_server.processing.png_lossless import LosslessPng, lossless_png

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

# oxipng level by effort band (png_effort.py). Lossless kodim01 (768x512): level 0 0.05 s
# -0.3%, level 1 0.10 s -6.7%, level 2 0.22 s -6.8%, level 3 0.45 s -7.0%.
_IHDR_SIZE = slice(16, 24)  # width, height: big-endian, right after the signature and tag


@dataclass(frozen=True, slots=True)
class PostPassContext:
    """What a post-pass needs besides the bytes."""

    policy: MetadataPolicy
    orientation: int
    effort: int = DEFAULT_EFFORT  # 1..10, as in CompressOptions


PostPass = Callable[[bytes, PostPassContext], bytes]


def optimise_jpeg(data: bytes, context: PostPassContext) -> bytes:
    """Lossless mozjpeg (progressive, optimised Huffman); keeps ICC, or all markers.

    EXIF is dropped with the other markers by default, so the orientation the viewer applies
    is written back in a minimal EXIF segment.
    """
    copy = (
        mozjpeg_lossless_optimization.COPY_MARKERS.ALL
        if context.policy.keep_all
        else mozjpeg_lossless_optimization.COPY_MARKERS.ICC
    )
    try:
        optimised = bytes(mozjpeg_lossless_optimization.optimize(data, copy=copy))
    except ValueError as error:
        logger.warning("mozjpeg lossless pass failed, keeping its input: %s", error)
        return data
    if context.policy.keep_all:
        return optimised
    return with_orientation(optimised, context.orientation)


def _pixels(data: bytes) -> int:
    width, height = struct.unpack(">II", data[_IHDR_SIZE]) if len(data) >= 24 else (0, 0)
    return int(width * height)


def _oxipng(data: bytes, context: PostPassContext, settings: LosslessPng) -> bytes:
    strip = oxipng.StripChunks.none() if context.policy.keep_all else oxipng.StripChunks.safe()
    try:
        if settings.zopfli is None:  # the level's own preset: libdeflate level, evaluation
            optimised = oxipng.optimize_from_memory(data, level=settings.level, strip=strip)
        else:
            optimised = oxipng.optimize_from_memory(
                data,
                level=settings.level,
                strip=strip,
                deflate=oxipng.Deflaters.zopfli(settings.zopfli),
                fast_evaluation=settings.fast_evaluation,
            )
        return bytes(optimised)
    except oxipng.PngError as error:
        logger.warning("oxipng pass failed, keeping its input: %s", error)
        return data


def optimise_png(data: bytes, context: PostPassContext) -> bytes:
    """oxipng at the effort's level: keeps bit depth and alpha; keeps iCCP/sRGB/gAMA/cHRM
    (everything if keep_all)."""
    level = oxipng_level(context.effort, _pixels(data))
    return _oxipng(data, context, LosslessPng(level))


def optimise_lossless_png(data: bytes, context: PostPassContext) -> bytes:
    """The q 100 pass: oxipng with the search png_lossless picks for the effort and size
    (zopfli on small images), same chunk policy as optimise_png."""
    return _oxipng(data, context, lossless_png(context.effort, _pixels(data)))


POSTPASSES: Mapping[ImageFormat, PostPass] = {
    ImageFormat.JPEG: optimise_jpeg,
    ImageFormat.PNG: optimise_png,
}
