"""What each PNG effort spends: libimagequant effort and dither, the palette's deflate, and
the oxipng level on lossless output. Shared by the PNG encoder and the oxipng post-pass.
"""

from __future__ import annotations

from dataclasses import dataclass

# Above this many pixels the default effort and below take the cheapest band: quantising
# and oxipng both cost CPU per pixel, and a 64 MP photo at the default band took 75 CPU-s
# (libimagequant effort 6: 40 s, oxipng level 1: 27 s) against a 30 s target; the band
# (quantiser 1, no dither) took 10.8 CPU-s in process (benchmarks/bigpng.py's photo, Q 75).
BIG_PIXELS = 16_000_000
_BIG_EFFORT_CAP = 5


@dataclass(frozen=True, slots=True)
class PngEffort:
    """quantiser: libvips pngsave `effort` for the palette (libimagequant speed 11 - it).
    dither: libimagequant's Floyd-Steinberg dithering level for the palette (0..1).
    palette_deflate: the palette's libdeflate level (encoders.png.deflate_palette), None for
    libvips' zlib level 6 alone.
    oxipng: the post-pass level on lossless output, None for none."""

    quantiser: int
    oxipng: int | None
    dither: float = 1.0
    palette_deflate: int | None = None


# benchmarks/levers_png.py on 6 Kodak photos, Q 50/65/80/90, one thread; figures against
# sharp's setting (quantiser 7, dither 1, zlib 6) in the same run. The palette's deflate:
# libdeflate 10 (deflate_palette) is 6% under zlib 6; oxipng level 1's filter trials and
# palette sorting add 0.01% for 1.5x its time, libdeflate 12 0.2% for 2x. Dither: efforts
# below 6 (libimagequant speed 6+) have no dither map and full Floyd-Steinberg costs 6-8
# SSIMULACRA2 points at Q 50, so they do not dither; with the map, dither 0.5 gives 1% fewer
# bytes than 1.0 at the same or a higher score. Quantiser 1-4 give the same palettes; 5 is
# 8-12% smaller than them at equal score (no dither). BD-rate vs sharp's setting and encode
# CPU ratio, per band: 1-2 +12.8% at 0.32x, 3-4 -2.6% at 0.64x, 5-6 -5.6% at 0.99x, 7-8
# -7.2% at 1.24x, 9-10 -8.0% at 1.77x (the most any lever gave); the round-1 default
# (quantiser 6, dither 1, oxipng 1) -4.4% at 1.49x. Pipeline CPU at Q 75, 3 interleaved
# passes, against sharp's setting in process: band 1-2 0.34x, 5-6 1.07x (bytes -6.2%), 7-8
# 1.47x (-6.3%), 9-10 2.03x (-6.7%). oxipng levels apply to lossless output only.
_BANDS: tuple[tuple[int, PngEffort], ...] = (
    (2, PngEffort(quantiser=1, oxipng=None, dither=0.0)),
    (4, PngEffort(quantiser=5, oxipng=0, dither=0.0, palette_deflate=10)),
    (6, PngEffort(quantiser=6, oxipng=1, dither=0.5, palette_deflate=10)),
    (8, PngEffort(quantiser=7, oxipng=2, dither=0.5, palette_deflate=12)),
    (10, PngEffort(quantiser=10, oxipng=3, dither=0.5, palette_deflate=12)),
)


def png_effort(effort: int, pixels: int) -> PngEffort:
    """The settings for `effort` (1..10) on an image of `pixels` (one frame)."""
    if pixels > BIG_PIXELS and effort <= _BIG_EFFORT_CAP:
        effort = 1
    for highest, settings in _BANDS:
        if effort <= highest:
            return settings
    return _BANDS[-1][1]


def oxipng_level(effort: int, pixels: int) -> int:
    """oxipng level when the post-pass runs (the cheapest band runs it on lossless output
    only: q 100 or a rejected palette)."""
    level = png_effort(effort, pixels).oxipng
    return 0 if level is None else level
