"""PNG: libimagequant palette when it holds the quality asked, else lossless; oxipng after.

Effort (png_effort.py): 1-2 quantiser effort 1, libvips zlib only (oxipng 0 on lossless);
3-4 effort 3, oxipng 0; 5-6 effort 6, oxipng 1; 7-8 effort 7, oxipng 2; 9-10 effort 10,
oxipng 3. Above 16 MP, efforts up to 5 take the 1-2 band (per-pixel CPU).
"""

from __future__ import annotations

from pixpress_server.processing import apng
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.png_effort import png_effort
from pixpress_server.processing.png_lossless import lossless_png
from pixpress_server.processing.postpass import PostPassContext, optimise_lossless_png
from pixpress_server.processing.vips import load_buffer, psnr


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
            # Quantiser effort 6 (libimagequant speed 5): after oxipng, 13-17% fewer bytes
            # than effort 4 on the Kodak photos at a higher SSIMULACRA2 (71.4 vs 69.6 mean),
            # for 2.5x the quantisation time; 7 gained under 1% over 6.
            "effort": settings.quantiser,
            "dither": 1.0,
            # oxipng re-deflates everything, so libvips' own level only matters without it.
            "compression": 6 if settings.oxipng is None else 1,
            "keep": request.policy.vips_keep,
        },
    )
    max_value = 65535.0 if image.band_format == "ushort" else 255.0
    score = psnr(image, load_buffer(palette, image.format), max_value, candidate_max=255.0)
    if score >= min_palette_psnr(request.quality):
        mode = f"palette effort {settings.quantiser} (psnr {score:.1f} dB)"
        return Encoded(palette, postpass=settings.oxipng is not None, mode=mode)
    return Encoded(request.source, postpass=True, mode=f"lossless (palette psnr {score:.1f} dB)")
