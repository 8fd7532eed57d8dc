"""GIF: high qualities keep the source's palettes and take gifsicle's lossy LZW; lower ones
re-quantise with cgif to fewer colours (128 down to 8), which is where the bytes are.

q 100 is lossless (gifsicle, else cgif with the palette reused, each kept only when exact).
"""

from __future__ import annotations

from dataclasses import dataclass

from pixpress_server.processing import gifsicle
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.vips import VipsImage, identical_pixels, load_buffer

# GIFs may carry an ICC profile in an ICCRGBG1 application extension, which libvips does not
# read: gifsicle keeps it only with the other extensions, so those stay when there is one (a
# false match in pixel data only keeps a few extension bytes).
_ICC_APPLICATION = b"ICCRGBG1"

# Measured with benchmarks/levers_gif.py on the comparison's GIF inputs (4 Kodak photos as
# 6-frame pans, each frame its own dithered 256-colour palette; mean SSIMULACRA2 over every
# frame as displayed). Against sharp's curve (16 colours at q < 90, the input palette reused
# at q >= 90: 0.357 of the input at 56.4, 0.925 at 88.3):
# - re-quantising to 32, 64, 128 colours (dither 1, inter-frame error 5): 0.483 at 72.4,
#   0.620 at 81.4, 0.776 at 85.7; sharp's GIF cannot ask for those (its colours round to a
#   4 or 8 bit depth), and its line between 16 and 256 colours is 10-18% above them.
#   cgif effort 4 or 1 instead of 7 (64 colours): 0.645 at 80.0, 0.646 at 77.1 for 0.75x
#   and 0.7x the CPU; gifsicle -O2 after it saved nothing (0.620). gifsicle's own --colors
#   with dithering: 64 colours 0.593 at 62.5, 128 0.785 at 79.9.
# - gifsicle --lossy on the source (palettes and dithering kept, so no re-dithering error):
#   -O2 --lossy=80 0.881 at 90.4, 160 0.786 at 85.8, 300 0.706 at 80.0, 600 0.625 at 73.6;
#   better than re-quantising above S ~86 only. -O3 saves 2-3% more for 1.6x the CPU.
# - the old encoder (256 colours, the first frame's palette reused on every frame, dithered):
#   0.861-0.954 at 84.1-88.6 for q 50-95, at 0.73 CPU-s/MP: remapping is libimagequant's
#   dearest step; gifsicle -O2 --lossy costs 0.13-0.17, the 32-64 colour cgif 0.16-0.28.
#   Quantising once (frame 0) and remapping every frame to it: same bytes, S 75.2 instead of
#   81.4, same CPU (the dithered remap is the cost, and it grows with the colours).
# This mapping, by effort (BD-rate against sharp's settings in-process, q 50-95; CPU-s/MP at
# q 65, one pass): effort 5 -13.8%, 0.26 (sharp's 16 colours: 0.155); effort 1 -1.0%, 0.21;
# effort 10 -14.2%, 0.40 (-O3 after re-quantising saved nothing on these pans, -3% on top).
LOSSY_FROM = 88
"""Qualities from here to 99 keep the source's palettes (gifsicle --lossy)."""
_LOSSY_PER_QUALITY = 8
"""--lossy = 8 x (100 - q): 8 at q 99, 40 at q 95, 80 at q 90, 96 at q 88."""
_BITDEPTHS = ((80, 7), (65, 6), (50, 5), (30, 4))
"""Palette bits by quality below LOSSY_FROM: 128 colours at q 80-87, ... 16 at q 30-49."""
_LOWEST_BITDEPTH = 3


@dataclass(frozen=True, slots=True)
class GifSettings:
    """How one quality is encoded: lossy LZW on the source's palettes, or re-quantised."""

    lossy: int | None
    """gifsicle --lossy on the source; None re-quantises with cgif."""
    bitdepth: int
    """cgif palette bits (8 when the palettes are kept)."""
    interframe_maxerror: float
    """cgif: pixels treated as unchanged between frames (0-32)."""


def settings_for(quality: int) -> GifSettings:
    """The encoding of `quality` 1..99 (100 is lossless and uses none of these)."""
    quality = max(1, min(quality, 100))
    interframe = round((100 - quality) / 5, 1)
    if quality >= LOSSY_FROM:
        return GifSettings(_LOSSY_PER_QUALITY * (100 - quality), 8, interframe)
    bitdepth = next((bits for low, bits in _BITDEPTHS if quality >= low), _LOWEST_BITDEPTH)
    return GifSettings(None, bitdepth, interframe)


def optimise_level(effort: int) -> int:
    """gifsicle -O level for an effort 1..10 (-O3 also follows a re-quantise at 9-10)."""
    return 1 if effort <= 3 else 2 if effort <= 8 else 3


def quantise_effort(effort: int) -> int:
    """cgif's effort (11 - libimagequant's speed) when re-quantising, for an effort 1..10."""
    return 1 if effort <= 2 else 4 if effort <= 4 else 7


def source_bits(image: VipsImage) -> int:
    """Bits of the source's palette as libvips reads them (8 when it does not say)."""
    return image.get_int("bits-per-sample", 8)


def _gifsicle_arguments(request: EncodeRequest, lossy: int | None) -> list[str]:
    arguments = [f"-O{optimise_level(request.effort)}"]
    if lossy:
        arguments.append(f"--lossy={lossy}")
    if not request.policy.keep_all:
        arguments += ["--no-comments", "--no-names"]
        if _ICC_APPLICATION not in request.source:
            arguments.append("--no-extensions")  # the loop count is not one: it stays
    return arguments


def _gifsicle(
    data: bytes, request: EncodeRequest, image: VipsImage, lossy: int | None
) -> bytes | None:
    megapixels = image.width * image.height / 1e6  # the strip: every frame
    return gifsicle.run(data, _gifsicle_arguments(request, lossy), megapixels=megapixels)


def _cgif_reused(request: EncodeRequest, image: VipsImage) -> bytes:
    """The source palette reused (no colours added), dithered only where a frame's colours
    are not in it (frames with their own local palette): without it those frames band."""
    return image.save(
        "gifsave_buffer",
        {
            "reuse": True,
            "dither": 1.0,
            "interframe_maxerror": settings_for(request.quality).interframe_maxerror,
            "effort": 7,
            "keep": request.policy.vips_keep,
        },
    )


def _cgif_quantised(request: EncodeRequest, image: VipsImage, settings: GifSettings) -> bytes:
    return image.save(
        "gifsave_buffer",
        {
            "reuse": False,
            "bitdepth": settings.bitdepth,
            "dither": 1.0,
            "interframe_maxerror": settings.interframe_maxerror,
            "effort": quantise_effort(request.effort),
            "keep": request.policy.vips_keep,
        },
    )


def _lossless(request: EncodeRequest, image: VipsImage) -> Encoded | KeepOriginal:
    """gifsicle's lossless optimisation, else the cgif re-save; each kept only when exact."""
    optimised = _gifsicle(request.source, request, image, None)
    if optimised is not None and identical_pixels(image, load_buffer(optimised, image.format)):
        return Encoded(optimised, postpass=False, mode="lossless (gifsicle)")
    data = _cgif_reused(request, image)
    if not identical_pixels(image, load_buffer(data, image.format)):
        return KeepOriginal("lossless re-save not exact")
    return Encoded(data, postpass=False, mode="lossless (cgif)")


def _quantised(request: EncodeRequest, image: VipsImage, settings: GifSettings) -> Encoded:
    data = _cgif_quantised(request, image, settings)
    mode = f"{1 << settings.bitdepth} colours"
    if optimise_level(request.effort) < 3:
        return Encoded(data, postpass=False, mode=mode)
    optimised = _gifsicle(data, request, image, None)  # None: missing or failing, cgif's kept
    if optimised is not None and len(optimised) < len(data):
        return Encoded(optimised, postpass=False, mode=f"{mode}, gifsicle")
    return Encoded(data, postpass=False, mode=mode)


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Frames, delays, disposal, the loop count and transparency are kept.

    quality 100: pixels identical to the source's, or the source is kept.
    """
    # Decoded once: gifsicle may pass some corrupt files through, and the exactness check
    # and the re-save read the pixels again.
    image = request.image.in_memory()
    if request.quality >= 100:
        return _lossless(request, image)
    settings = settings_for(request.quality)
    if settings.lossy is None:
        if source_bits(image) > settings.bitdepth:
            return _quantised(request, image, settings)
        # No more colours than the target already: re-quantising could only add error.
        return _reused(request, image)
    lossy = _gifsicle(request.source, request, image, settings.lossy)
    if lossy is not None:
        return Encoded(lossy, postpass=False, mode=f"palettes kept, lossy {settings.lossy}")
    return Encoded(_cgif_reused(request, image), postpass=False, mode="palette reused")


def _reused(request: EncodeRequest, image: VipsImage) -> Encoded:
    """The source palette reused with inter-frame error, gifsicle after from effort 4."""
    data = _cgif_reused(request, image)
    if optimise_level(request.effort) == 1:
        return Encoded(data, postpass=False, mode="palette reused")
    optimised = _gifsicle(data, request, image, None)  # None: missing or failing, cgif's kept
    if optimised is not None and len(optimised) < len(data):
        return Encoded(optimised, postpass=False, mode="palette reused, gifsicle")
    return Encoded(data, postpass=False, mode="palette reused")
