"""What each PNG effort spends: the libimagequant effort and the oxipng level, by band.

Shared by the PNG encoder (palette) and the oxipng post-pass (palette and lossless output).
"""

from __future__ import annotations

from dataclasses import dataclass

# Above this many pixels the default effort and below take the cheapest band: quantising
# and oxipng both cost CPU per pixel, and a 64 MP photo at the default band took 75 CPU-s
# (libimagequant effort 6: 40 s, oxipng level 1: 27 s) against a 30 s target.
BIG_PIXELS = 16_000_000
_BIG_EFFORT_CAP = 5


@dataclass(frozen=True, slots=True)
class PngEffort:
    """quantiser: libvips pngsave `effort` for the palette (libimagequant speed 11 - it).
    oxipng: the post-pass level, None for none (libvips' own zlib level 6 instead)."""

    quantiser: int
    oxipng: int | None


# benchmarks/levers_png_gif.py on 4 Kodak photos, Q 50/70/90, one thread, bytes / input at
# mean SSIMULACRA2 70.0 / 77.8 and CPU-s per MP (sharp's settings, quantiser 7 + zlib 6:
# 0.275 / 0.359 at 1.10-1.50): band 1-2 0.367 / (73.3 at best) at 0.38-0.41; band 3-4 0.363
# at 0.61-0.67; band 5-6 0.259 / 0.337 at 1.40-1.53; band 7-8 0.258 / 0.335 at 1.61-1.69;
# band 9-10 0.257 / 0.328 at 3.1-3.5. Quantiser efforts 1-4 give the same palettes (the
# dithered remap, ~0.45 s/MP, is the floor); oxipng level 1 is 2-8% under level 0 (13% on a
# 64 MP photo) for 2x its time; level 2 +0.1%, level 3 +0.5% for 3-4x level 1's time.
_BANDS: tuple[tuple[int, PngEffort], ...] = (
    (2, PngEffort(quantiser=1, oxipng=None)),
    (4, PngEffort(quantiser=3, oxipng=0)),
    (6, PngEffort(quantiser=6, oxipng=1)),
    (8, PngEffort(quantiser=7, oxipng=2)),
    (10, PngEffort(quantiser=10, oxipng=3)),
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
