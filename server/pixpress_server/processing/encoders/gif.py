"""GIF: cgif with palette size, dither and inter-frame error derived from quality."""

from __future__ import annotations

from dataclasses import dataclass

from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.vips import identical_pixels, load_buffer


@dataclass(frozen=True, slots=True)
class GifSettings:
    bitdepth: int
    dither: float
    interframe_maxerror: float


def settings_for(quality: int) -> GifSettings:
    """q 80-99: 256 colours, q 60-79: 128, q 40-59: 64, q 20-39: 32, below: 16.

    Dither 1.0 from q 50 (smooth gradients), 0.5 below (dither noise costs LZW bytes);
    inter-frame error (pixels treated as unchanged between frames) 0 at q 100 up to 10 at q 1.
    """
    bitdepth = 4 + sum(quality >= threshold for threshold in (20, 40, 60, 80))
    return GifSettings(
        bitdepth=bitdepth,
        dither=1.0 if quality >= 50 else 0.5,
        interframe_maxerror=round((100 - quality) / 10, 1),
    )


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Frames, delays and the loop count travel as image metadata and are written back.

    quality 100: a re-save with no dither and no inter-frame error, kept only when it
    decodes to exactly the source's pixels.
    """
    image = request.image.in_memory() if request.quality >= 100 else request.image
    lossless = GifSettings(bitdepth=8, dither=0.0, interframe_maxerror=0.0)
    settings = lossless if request.quality >= 100 else settings_for(request.quality)
    options: dict[str, object] = {
        "bitdepth": settings.bitdepth,
        "dither": settings.dither,
        "interframe_maxerror": settings.interframe_maxerror,
    }
    data = image.save("gifsave_buffer", options | {"effort": 7, "keep": request.policy.vips_keep})
    if request.quality >= 100 and not identical_pixels(image, load_buffer(data, image.format)):
        return KeepOriginal("lossless re-save not exact")
    mode = "lossless" if request.quality >= 100 else f"{2**settings.bitdepth} colours"
    return Encoded(data, postpass=False, mode=mode)
