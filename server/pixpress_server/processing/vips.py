"""The only module that imports pyvips: typed wrappers for what pixpress uses.

pyvips ships no types, so its objects stop here behind `VipsImage`; pyvips.Error becomes
InvalidInput (public message) with libvips' own text in `detail`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from pixpress_server.errors import InvalidInput
from pixpress_server.processing.model import ImageFormat

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_LOADERS: Mapping[ImageFormat, str] = {
    ImageFormat.JPEG: "jpegload",
    ImageFormat.PNG: "pngload",
    ImageFormat.WEBP: "webpload",
    ImageFormat.GIF: "gifload",
    ImageFormat.AVIF: "heifload",
    ImageFormat.HEIF: "heifload",
    ImageFormat.TIFF: "tiffload",
}
_MULTI_PAGE = frozenset({"webpload", "gifload", "heifload", "tiffload"})


class _AsDebug(logging.Filter):
    """libvips' INFO and MESSAGE lines (its chatter) become DEBUG records; warnings stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


_AS_DEBUG = _AsDebug()


def initialise(threads: int) -> None:
    """Once per process: no operation cache (every request is new data), no untrusted loaders,
    `threads` libvips worker threads, libvips' chatter at DEBUG (call after logging is set up)."""
    # libvips logs "threadpool completed with 1 workers" at INFO after every pixel pipeline
    # (one or more per request): at the server's INFO level it was most of the log, and
    # formatting it cost 3% of a tiny JPEG's compress CPU. Above DEBUG it is never recorded.
    chatter = logging.getLogger("pyvips")
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        # INFO, not DEBUG: the binding's own DEBUG lines (pyvips.vobject and the others)
        # give every operation's arguments, the image bytes included.
        chatter.setLevel(logging.INFO)
        chatter.addFilter(_AS_DEBUG)  # once: addFilter ignores a filter already there
    else:
        chatter.setLevel(logging.WARNING)
    pyvips.concurrency_set(threads)
    pyvips.cache_set_max(0)
    pyvips.cache_set_max_mem(0)
    pyvips.cache_set_max_files(0)
    pyvips.block_untrusted_set(True)


def _invalid(image_format: ImageFormat, error: Exception) -> InvalidInput:
    return InvalidInput(f"corrupt or truncated {image_format}", detail=str(error))


@dataclass(frozen=True, slots=True)
class VipsImage:
    """A typed handle on a (lazy) pyvips image."""

    image: Any
    format: ImageFormat

    @property
    def width(self) -> int:
        return int(self.image.width)

    @property
    def height(self) -> int:
        """Height of the whole strip: all frames stacked for animations."""
        return int(self.image.height)

    @property
    def bands(self) -> int:
        return int(self.image.bands)

    @property
    def band_format(self) -> str:
        """libvips band format name, such as "uchar" or "ushort"."""
        return str(self.image.format)

    @property
    def interpretation(self) -> str:
        return str(self.image.interpretation)

    def has(self, field: str) -> bool:
        return bool(self.image.get_typeof(field) != 0)

    def get_int(self, field: str, default: int) -> int:
        return int(self.image.get(field)) if self.has(field) else default

    def get_str(self, field: str, default: str = "") -> str:
        return str(self.image.get(field)) if self.has(field) else default

    @property
    def frames(self) -> int:
        page_height = self.get_int("page-height", self.height)
        if page_height <= 0 or self.height % page_height:
            return 1
        return self.height // page_height

    def page_height(self) -> int:
        return self.get_int("page-height", self.height)

    def autorotated(self) -> VipsImage:
        """Pixels turned upright per the EXIF orientation (the orientation field is removed)."""
        try:
            return VipsImage(self.image.autorot(), self.format)
        except pyvips.Error as error:
            raise _invalid(self.format, error) from error

    def in_memory(self) -> VipsImage:
        """Decode every pixel now (for encoders that need random access or two passes)."""
        try:
            return VipsImage(self.image.copy_memory(), self.format)
        except pyvips.Error as error:
            raise _invalid(self.format, error) from error

    def packed(self) -> memoryview:
        """Decode every pixel into one buffer (bands interleaved, rows in order), not copied."""
        try:
            return memoryview(self.image.write_to_memory())
        except pyvips.Error as error:
            raise _invalid(self.format, error) from error

    def check_decodes(self) -> None:
        """Decode every pixel (streamed, nothing kept) so corrupt or truncated data fails here.

        For paths that never decode otherwise (lossless post-passes on the original bytes).
        """
        try:
            self.image.min()
        except pyvips.Error as error:
            raise _invalid(self.format, error) from error

    def save(self, saver: str, options: Mapping[str, object]) -> bytes:
        """Run a `*save_buffer` operation, e.g. save("jpegsave_buffer", {"Q": 80})."""
        try:
            return bytes(pyvips.Operation.call(saver, self.image, **options))
        except pyvips.Error as error:
            # With sequential access the pixels are decoded during the save, so this is
            # almost always the input failing to decode.
            raise _invalid(self.format, error) from error


def load(path: Path, image_format: ImageFormat, *, sequential: bool = True) -> VipsImage:
    """Open with the loader of the sniffed format (never by autodetect): header only, lazy.

    Every frame of a multi-frame image is loaded (n=-1); truncated or corrupt data fails.
    """
    loader = _LOADERS[image_format]
    options: dict[str, object] = {
        "access": "sequential" if sequential else "random",
        "fail_on": "error",
    }
    if loader in _MULTI_PAGE:
        options["n"] = -1
    try:
        return VipsImage(pyvips.Operation.call(loader, str(path), **options), image_format)
    except pyvips.Error as error:
        raise _invalid(image_format, error) from error


# Below this many pixels a side, decoding at 1/8 scale failed on valid files (jpegsuite's 2x2
# and 3x3 arithmetic-coded greys): those decode whole.
_SHRUNK_CHECK_MIN_SIDE = 64


def check_jpeg_decodes(data: bytes, width: int, height: int) -> None:
    """Entropy-decode every scan of a JPEG, nothing kept, so corrupt or truncated data fails.

    At 1/8 scale libjpeg inverse-transforms only each block's DC term: half the CPU of a full
    decode (Kodak, camera photos), the same failures on truncated and byte-flipped files.
    """
    shrink = 8 if min(width, height) >= _SHRUNK_CHECK_MIN_SIDE else 1
    options: dict[str, object] = {"access": "sequential", "fail_on": "error", "shrink": shrink}
    try:
        pyvips.Operation.call("jpegload_buffer", data, **options).min()
    except pyvips.Error as error:
        raise _invalid(ImageFormat.JPEG, error) from error


def load_buffer(data: bytes, image_format: ImageFormat) -> VipsImage:
    """Load encoded bytes (our own output, for checks) with the format's loader."""
    loader = _LOADERS[image_format] + "_buffer"
    options: dict[str, object] = {"access": "sequential", "fail_on": "error"}
    if _LOADERS[image_format] in _MULTI_PAGE:
        options["n"] = -1
    try:
        return VipsImage(pyvips.Operation.call(loader, data, **options), image_format)
    except pyvips.Error as error:
        raise _invalid(image_format, error) from error


def psnr(
    reference: VipsImage, candidate: VipsImage, reference_max: float, candidate_max: float
) -> float:
    """Peak signal-to-noise ratio in dB over RGBA, each image scaled by its own maximum."""
    try:
        a = _rgba(reference.image.cast("float") / reference_max, 1.0)
        b = _rgba(candidate.image.cast("float") / candidate_max, 1.0)
        mse = float(((a - b) ** 2).avg())
    except pyvips.Error as error:
        raise _invalid(reference.format, error) from error
    if mse == 0:
        return math.inf
    return 10 * math.log10(1.0 / mse)


def _rgba(image: Any, opaque: float) -> Any:
    """Grey, grey+alpha and RGB expanded to RGBA by band arithmetic (no colour conversion)."""
    bands = image.bands
    if bands == 1:
        return image.bandjoin([image, image]).bandjoin_const([opaque])
    if bands == 2:
        return image[0].bandjoin([image[0], image[0], image[1]])
    if bands == 3:
        return image.bandjoin_const([opaque])
    return image[0:4] if bands > 4 else image


def identical_pixels(a: VipsImage, b: VipsImage) -> bool:
    """Whether two decoded images have exactly the same pixels (bands normalised to RGBA)."""
    try:
        x = _rgba(a.image, 255.0 if a.band_format == "uchar" else 65535.0)
        y = _rgba(b.image, 255.0 if b.band_format == "uchar" else 65535.0)
        if (x.width, x.height, x.bands) != (y.width, y.height, y.bands):
            return False
        return float((x.cast("int") - y.cast("int")).abs().max()) == 0
    except pyvips.Error as error:
        raise _invalid(a.format, error) from error


@dataclass(frozen=True, slots=True)
class Pixels:
    """Decoded 8-bit sRGB samples, row-major interleaved: RGB, or RGBA when there is alpha."""

    data: bytes
    width: int
    height: int
    bands: int


def srgb8(image: VipsImage) -> Pixels:
    """Decode to 8-bit sRGB for the in-worker metric (all frames, stacked as stored).

    Grey, 16-bit and CMYK go through libvips' colourspace conversion; embedded ICC profiles
    are not applied, so a source and its candidate (same profile) compare as stored.
    """
    try:
        pixels = image.image
        if pixels.interpretation != "srgb" or pixels.format != "uchar":
            pixels = pixels.colourspace("srgb")
        if pixels.format != "uchar":
            pixels = pixels.cast("uchar")
        if pixels.bands > 4:
            pixels = pixels[0:4]
        if pixels.bands < 3:  # sRGB without colour: a lone band (plus alpha) from a cast
            grey = pixels[0]
            rgb = grey.bandjoin([grey, grey])
            pixels = rgb.bandjoin(pixels[1]) if pixels.bands == 2 else rgb
        return Pixels(bytes(pixels.write_to_memory()), pixels.width, pixels.height, pixels.bands)
    except pyvips.Error as error:
        raise _invalid(image.format, error) from error
