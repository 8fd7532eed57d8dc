"""GIF: the source's palette kept (cgif reuse) with inter-frame error from quality, gifsicle after.

Effort: 1-5 cgif alone (q 100: gifsicle -O1); 6-8 then gifsicle -O2 (changed rectangles,
transparency between frames); 9-10 then gifsicle -O3 (several methods, smallest kept).
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
# Re-quantising an already-paletted GIF to fewer colours with dithering costs LZW bytes and
# quality. Measured (benchmarks/levers_png_gif.py; 6 Kodak stills and 4 animations saved as
# GIF by libvips and Pillow, plus the 100x100 gifsuite cases; mean SSIMULACRA2 of first,
# middle and last frames): the old re-quantising 0.555 of the bytes at 78.0 (q 50); sharp's
# settings (reuse, no inter-frame error) 0.939 at 96.4; palette reuse with inter-frame error
# (100 - q) / 5: 0.758 at 92.8 (q 30), 0.812 at 94.8 (q 60), 0.904 at 96.4 (q 90); then
# gifsicle -O3: 0.756, 0.807, 0.873 at the same scores, for +0.1-0.16 CPU-s/MP. gifsicle
# --lossy on the source instead: 0.818 at 88.8, 0.871 at 92.1, 0.926 at 95.6. Forcing the
# global palette on every frame without dither: 0.738 at 87.3. CPU at q 60, one run, 3
# interleaved repeats: cgif alone 1.03x sharp's settings, + gifsicle -O2 1.06x (-0.3% bytes),
# + -O3 1.20x (-0.6%); gifsicle -O2 alone on the source (q 100) 0.13x.


@dataclass(frozen=True, slots=True)
class GifSettings:
    """cgif settings beside the reused source palette."""

    interframe_maxerror: float


def settings_for(quality: int) -> GifSettings:
    """Inter-frame error (pixels treated as unchanged between frames, 0-32): 0 at q 100,
    2 at q 90, 10 at q 50, 19.8 at q 1."""
    return GifSettings(interframe_maxerror=round((100 - min(quality, 100)) / 5, 1))


def optimise_level(effort: int) -> int:
    """gifsicle -O level for an effort 1..10."""
    return 1 if effort <= 5 else 2 if effort <= 8 else 3


def _gifsicle_arguments(request: EncodeRequest) -> list[str]:
    arguments = [f"-O{optimise_level(request.effort)}"]
    if not request.policy.keep_all:
        arguments += ["--no-comments", "--no-names"]
        if _ICC_APPLICATION not in request.source:
            arguments.append("--no-extensions")  # the loop count is not one: it stays
    return arguments


def _gifsicle(data: bytes, request: EncodeRequest, image: VipsImage) -> bytes | None:
    megapixels = image.width * image.height / 1e6  # the strip: every frame
    return gifsicle.run(data, _gifsicle_arguments(request), megapixels=megapixels)


def _cgif(request: EncodeRequest, image: VipsImage) -> bytes:
    return image.save(
        "gifsave_buffer",
        {
            "reuse": True,
            # Dither only where a frame's colours are not in the source palette (frames with
            # their own local palette): without it those frames band.
            "dither": 1.0,
            "interframe_maxerror": settings_for(request.quality).interframe_maxerror,
            "effort": 7,
            "keep": request.policy.vips_keep,
        },
    )


def _lossless(request: EncodeRequest, image: VipsImage) -> Encoded | KeepOriginal:
    """gifsicle's lossless optimisation, else the cgif re-save; each kept only when exact."""
    optimised = _gifsicle(request.source, request, image)
    if optimised is not None and identical_pixels(image, load_buffer(optimised, image.format)):
        return Encoded(optimised, postpass=False, mode="lossless (gifsicle)")
    data = _cgif(request, image)
    if not identical_pixels(image, load_buffer(data, image.format)):
        return KeepOriginal("lossless re-save not exact")
    return Encoded(data, postpass=False, mode="lossless (cgif)")


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Frames, delays, disposal, the loop count and transparency are kept.

    quality 100: pixels identical to the source's, or the source is kept.
    """
    # Decoded once: gifsicle may pass some corrupt files through, and the exactness check
    # and the re-save read the pixels again.
    image = request.image.in_memory()
    if request.quality >= 100:
        return _lossless(request, image)
    data = _cgif(request, image)
    if optimise_level(request.effort) == 1:
        return Encoded(data, postpass=False, mode="palette reused")
    optimised = _gifsicle(data, request, image)  # None: missing or failing, cgif's kept
    if optimised is not None and len(optimised) < len(data):
        return Encoded(optimised, postpass=False, mode="palette reused, gifsicle")
    return Encoded(data, postpass=False, mode="palette reused")
