"""What q 100 PNG spends on oxipng, by effort and image size: level, and zopfli where it pays.

The lossless output is the source re-deflated, so bytes only move with oxipng's search.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixpress_server.processing.png_effort import oxipng_level


@dataclass(frozen=True, slots=True)
class LosslessPng:
    """oxipng `level`; `zopfli` iterations for the final deflate (None: libdeflate);
    `fast_evaluation`: rank the filters with a quick deflate, then zopfli the best only."""

    level: int
    zopfli: int | None = None
    fast_evaluation: bool = True

    @property
    def name(self) -> str:
        if self.zopfli is None:
            return f"oxipng {self.level}"
        evaluation = "fast" if self.fast_evaluation else "full"
        return f"oxipng {self.level} zopfli {self.zopfli} {evaluation}"


# Measured (CPU per image, one thread busy machine; bytes vs the best of oxipng -o4 and
# zopflipng per image): on 4 Kodak photos level 1 0.46 s/MP (+1.7% total), level 2 1.0 s/MP
# (+0.3%, 2 of 4 images at or under), level 5 5.4 s/MP (-0.19%, 4 of 4), level 2 + zopfli 15
# 15 s/MP (-0.36%); zopflipng itself 13 s/MP. On 161 PngSuite images level 5 gave +1.7%,
# + zopfli 15 fast +1.0% at 65 ms each, full +0.85% at 0.4 s each (zopflipng 0.1 s). On a
# 256x256 photo crop zopfli fast costs 1.1 s (-2.1% vs level 5), full 7.6 s (no gain).
# All 161 PngSuite images against zopflipng alone: level 5 + zopfli 15 fast at or under it
# on 121, 861 bytes over in sum where over; level 6 (Average and Paeth filters too) 138 and
# 770 B at the same CPU; zopfli 60 iterations 126 and 828 B at 1.7x; full evaluation 130.
# What stays over zopflipng is 685 B on 8 images it writes differently (a palette as RGB + a
# tRNS colour key, pHYs dropped) and 85 B of deflate on 15. A 7072x7072 photo (50 MP) at the
# default effort: 32.7 CPU-s in all (decode check + level 1), 108 MB -> 47.8 MB.
# A 4 MP photo: level 1 0.43 s/MP, level 2 0.94, level 5 5.2 (-2.5% vs level 2).
ZOPFLI_FULL_PIXELS = 4_096
_MEGAPIXEL = 1_000_000
# (lowest effort, [(up to pixels, settings)], settings above the last size)
_BANDS: tuple[tuple[int, tuple[tuple[int, LosslessPng], ...], LosslessPng], ...] = (
    (
        9,
        (
            (ZOPFLI_FULL_PIXELS, LosslessPng(6, zopfli=15, fast_evaluation=False)),
            (_MEGAPIXEL, LosslessPng(6, zopfli=15)),
            (16 * _MEGAPIXEL, LosslessPng(6)),
        ),
        LosslessPng(2),
    ),
    (
        7,
        (
            (262_144, LosslessPng(6, zopfli=15)),
            (16 * _MEGAPIXEL, LosslessPng(5)),
        ),
        LosslessPng(2),
    ),
    (
        5,
        (
            (65_536, LosslessPng(6, zopfli=15)),
            (2 * _MEGAPIXEL, LosslessPng(5)),
            (16 * _MEGAPIXEL, LosslessPng(2)),
        ),
        LosslessPng(1),
    ),
)


def lossless_png(effort: int, pixels: int) -> LosslessPng:
    """The oxipng settings for q 100 at `effort` (1..10) on an image of `pixels`."""
    for lowest, sizes, above in _BANDS:
        if effort >= lowest:
            for highest, settings in sizes:
                if pixels <= highest:
                    return settings
            return above
    return LosslessPng(oxipng_level(effort, pixels))
