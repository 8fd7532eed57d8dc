"""PNG: a libimagequant palette, re-deflated by libdeflate, when it holds the quality asked;
else lossless through oxipng. What each effort spends is in png_effort.py."""

from __future__ import annotations

import logging
import math

import oxipng
import pyvips

from pixpress_server.processing import apng
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.png_effort import png_effort
from pixpress_server.processing.png_lossless import lossless_png
from pixpress_server.processing.postpass import PostPassContext, optimise_lossless_png
from pixpress_server.processing.vips import VipsImage, load_buffer, psnr

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


def deflate_palette(data: bytes, level: int) -> bytes:
    """Re-deflate a palette PNG with libdeflate at `level`, rows unfiltered, chunks kept.

    What oxipng level 1 saved on libimagequant output (6% under zlib 6 on Kodak photos) is
    libdeflate's level 10 alone: its row filter trials and palette sorting added 0.01% for
    1.5x the time (benchmarks/levers_png.py). libvips already wrote only the chunks the
    metadata policy keeps.
    """
    try:
        optimised = oxipng.optimize_from_memory(
            data,
            level=1,
            filter=[oxipng.RowFilter.NoOp],
            deflate=oxipng.Deflaters.libdeflater(level),
            palette_reduction=False,
            strip=oxipng.StripChunks.none(),
        )
    except oxipng.PngError as error:
        logger.warning("palette deflate failed, keeping libvips' output: %s", error)
        return data
    return bytes(optimised) if len(optimised) < len(data) else data


def min_palette_psnr(quality: int) -> float:
    """The palette acceptance rule: PSNR (dB, all bands incl. alpha) the palette must reach.

    20 dB at q 1, 31 dB at q 75, 37 dB at q 90, 42 dB at q 99 (a convex curve). Kodak
    photos quantised by libimagequant at Q 75 reach 35-39 dB and score SSIMULACRA2 72-81
    (a JPEG at q 75 scores about the same), so photos take the palette up to q ~ 85, like
    pngquant/TinyPNG; above that only graphics and already-paletted images do, and photos
    stay lossless. The first rule (28 + 14(q-1)/98, 38.6 dB at q 75) sent half the photos
    to lossless at q 75: 2.5x the bytes of Pillow's 256-colour PNG for +17 SSIMULACRA2.
    """
    return 20.0 + 22.0 * float(((quality - 1) / 98) ** 2.5)


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """quality 100: the original bytes through oxipng's stronger q 100 search (png_lossless)."""
    if apng.is_apng(request.source):  # validated whole by apng.check in the pipeline
        return KeepOriginal("apng animation kept unchanged")
    if request.quality >= 100:
        request.image.check_decodes()  # oxipng would pass some corrupt files through
        pixels = request.image.width * request.image.height
        search = lossless_png(request.effort, pixels)
        context = PostPassContext(request.policy, orientation=1, effort=request.effort)
        data = optimise_lossless_png(request.source, context)
        return Encoded(data, postpass=False, mode=f"lossless {search.name}")

    # The image is read twice (quantise, then compare), so decode it once into memory.
    image = request.image.in_memory()
    settings = png_effort(request.effort, image.width * image.height)
    palette = image.save(
        "pngsave_buffer",
        {
            "palette": True,
            "Q": request.quality,
            "effort": settings.quantiser,
            "dither": settings.dither,
            # Rows unfiltered (libvips' default, and what palette indices want); the
            # libdeflate pass re-deflates everything, so zlib's own level then only costs.
            "compression": 6 if settings.palette_deflate is None else 1,
            "keep": request.policy.vips_keep,
        },
    )
    score = palette_psnr(image, load_buffer(palette, image.format))
    if score >= min_palette_psnr(request.quality):
        if settings.palette_deflate is not None:
            palette = deflate_palette(palette, settings.palette_deflate)
        mode = f"palette effort {settings.quantiser} (psnr {score:.1f} dB)"
        return Encoded(palette, postpass=False, mode=mode)
    return Encoded(request.source, postpass=True, mode=f"lossless (palette psnr {score:.1f} dB)")


def palette_psnr(image: VipsImage, palette: VipsImage) -> float:
    """vips.psnr of the palette against the image, in integer arithmetic for 8-bit RGB(A).

    Same figure as the float pipeline for a sixth of its CPU (0.02 vs 0.14 s/MP on Kodak
    photos); anything else (grey, 16-bit, bands that differ) takes vips.psnr.
    """
    same = image.bands == palette.bands and image.bands in (3, 4)
    if not same or image.band_format != "uchar" or palette.band_format != "uchar":
        max_value = 65535.0 if image.band_format == "ushort" else 255.0
        return psnr(image, palette, max_value, candidate_max=255.0)
    try:
        difference = image.image - palette.image
        mean_square = float((difference * difference).avg())
    except pyvips.Error:
        return psnr(image, palette, 255.0, candidate_max=255.0)  # raises the typed error
    if mean_square == 0:
        return math.inf
    # vips.psnr averages over RGBA: an opaque image's alpha adds a band of zero error.
    mean_square *= image.bands / 4
    return 10 * math.log10(255.0**2 / mean_square)
