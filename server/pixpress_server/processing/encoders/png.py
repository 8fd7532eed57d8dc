"""PNG: libimagequant palette when it holds the quality asked, else lossless; oxipng after."""

from __future__ import annotations

from pixpress_server.processing import apng
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
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
    """quality 100: the original bytes, optimised losslessly by the oxipng post-pass."""
    if apng.is_apng(request.source):  # validated whole by apng.check in the pipeline
        return KeepOriginal("apng animation kept unchanged")
    if request.quality >= 100:
        request.image.check_decodes()  # oxipng would pass some corrupt files through
        return Encoded(request.source, postpass=True, mode="lossless")

    # The image is read twice (quantise, then compare), so decode it once into memory.
    image = request.image.in_memory()
    palette = image.save(
        "pngsave_buffer",
        {
            "palette": True,
            "Q": request.quality,
            # effort 6 of 10 (libimagequant speed 5): after oxipng, 13-17% fewer bytes than
            # effort 4 on the Kodak photos at a higher SSIMULACRA2 (71.4 vs 69.6 mean), for
            # 2.5x the quantisation time (0.43 s vs 0.15 s at 0.4 MP; 5.4 s vs 2.1 s at 6 MP).
            # Effort 5 gained nothing over 4; 7 gained under 1% over 6.
            "effort": 6,
            "dither": 1.0,
            "compression": 6,
            "keep": request.policy.vips_keep,
        },
    )
    max_value = 65535.0 if image.band_format == "ushort" else 255.0
    score = psnr(image, load_buffer(palette, image.format), max_value, candidate_max=255.0)
    if score >= min_palette_psnr(request.quality):
        return Encoded(palette, postpass=True, mode=f"palette (psnr {score:.1f} dB)")
    return Encoded(request.source, postpass=True, mode=f"lossless (palette psnr {score:.1f} dB)")
