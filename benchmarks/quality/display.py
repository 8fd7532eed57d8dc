"""Decode an image "as displayed" for comparison: oriented, in sRGB, 8-bit RGB or RGBA.

The benchmark's own pyvips adapter (Pillow only for what libvips can't open, such as AVIF
sequences): decoder objects stay inside this module.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvips
from PIL import Image, ImageCms, ImageOps, ImageSequence

__all__ = ["Source", "as_displayed", "as_displayed_frames"]

Source = str | Path | bytes
"""A file path, or the encoded file's bytes."""

U8 = npt.NDArray[np.uint8]

_SIXTEEN_BIT = frozenset({"ushort", "short"})


def _load(source: Source, **options: Any) -> Any:
    if isinstance(source, bytes):
        return pyvips.Image.new_from_buffer(source, "", **options)
    return pyvips.Image.new_from_file(str(source), **options)


def _to_srgb(image: Any) -> Any:
    """Convert to sRGB, keeping 16-bit precision when the source has it."""
    sixteen = image.format in _SIXTEEN_BIT or image.interpretation in ("rgb16", "grey16")
    if image.get_typeof("icc-profile-data") != 0:
        # The embedded profile says what the numbers mean; relative colorimetric is what
        # browsers use for untagged-intent images.
        return image.icc_transform(
            "srgb", embedded=True, intent="relative", depth=16 if sixteen else 8
        )
    # Untagged: taken as sRGB already; colourspace() only expands grey, converts CMYK/Lab etc.
    return image.colourspace("rgb16" if sixteen else "srgb")


def _to_array(image: Any) -> U8:
    """Pixels as (height, width, 3|4) uint8; 16-bit values are rounded, v * 255 / 65535."""
    colour = image.extract_band(0, n=3) if image.bands > 3 else image
    if image.hasalpha() and image.bands > 3:
        colour = colour.bandjoin(image.extract_band(image.bands - 1))
    if colour.format in _SIXTEEN_BIT:
        wide = np.ndarray(
            buffer=colour.cast("ushort").write_to_memory(),
            dtype=np.uint16,
            shape=(colour.height, colour.width, colour.bands),
        ).astype(np.uint32)
        return ((wide * 255 + 32767) // 65535).astype(np.uint8)
    if colour.format != "uchar":
        colour = colour.cast("uchar")
    return np.ndarray(
        buffer=colour.write_to_memory(),
        dtype=np.uint8,
        shape=(colour.height, colour.width, colour.bands),
    ).copy()


def _displayed(image: Any) -> U8:
    return _to_array(_to_srgb(image.autorot()))


def _pillow_frames(source: Source, first_only: bool) -> list[U8]:
    """The same normalisation through Pillow, for containers libvips refuses."""
    opened = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    frames: list[U8] = []
    with opened:
        srgb = ImageCms.createProfile("sRGB")
        for frame in ImageSequence.Iterator(opened):
            oriented: Image.Image = ImageOps.exif_transpose(frame) or frame
            mode = "RGBA" if oriented.has_transparency_data else "RGB"
            oriented = oriented.convert(mode)
            icc = frame.info.get("icc_profile")
            if icc:
                embedded = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                oriented = (
                    ImageCms.profileToProfile(oriented, embedded, srgb, outputMode=mode) or oriented
                )
            frames.append(np.asarray(oriented, dtype=np.uint8).copy())
            if first_only:
                break
    return frames


def _pillow_fallback(source: Source, first_only: bool) -> list[U8]:
    try:
        return _pillow_frames(source, first_only)
    except (OSError, ValueError) as error:  # PIL.UnidentifiedImageError is an OSError
        raise ValueError(
            f"Expected a decodable image but neither libvips nor Pillow could: {error}"
        ) from error


def as_displayed(source: Source) -> U8:
    """Decode the first frame as a viewer shows it.

    EXIF orientation is applied, an embedded ICC profile is converted to sRGB (untagged images
    are taken as sRGB), grey becomes RGB, and 16-bit samples are rounded to 8 bits. HEIF/AVIF
    go through libvips' heifload like any other format.

    Args:
        source: a path or the encoded bytes.

    Returns:
        (height, width, 3) uint8 RGB, or (height, width, 4) RGBA when the image has alpha.

    Raises:
        ValueError: neither libvips nor Pillow can decode it.
    """
    try:
        image = _load(source)
    except pyvips.Error:
        return _pillow_fallback(source, first_only=True)[0]
    return _displayed(image)


def as_displayed_frames(source: Source) -> list[U8]:
    """Every frame of an animation (or page of a multi-page file), each as `as_displayed`.

    Args:
        source: a path or the encoded bytes.

    Returns:
        One array per frame; a still image gives a list of one.

    Raises:
        ValueError: neither libvips nor Pillow can decode it.
    """
    try:
        first = _load(source)
    except pyvips.Error:
        return _pillow_fallback(source, first_only=False)
    pages = first.get_n_pages()
    if pages <= 1:
        return [_displayed(first)]
    strip = _load(source, n=-1)
    height = strip.get_page_height()
    return [
        _displayed(strip.crop(0, index * height, strip.width, height))
        for index in range(strip.height // height)
    ]
