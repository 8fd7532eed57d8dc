"""The memory estimate: per-format factors from the table, PNG's bit depth and bands, rotation,
input bytes, fixed overhead; and what admission makes of it."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from pixpress_server.admission import MemoryBudget
from pixpress_server.errors import TooLarge
from pixpress_server.processing.formats import spec_for
from pixpress_server.processing.memory import PROCESS_OVERHEAD, bytes_per_pixel, estimate_memory
from pixpress_server.processing.model import ImageFormat, ImageHeader


def header(image_format: ImageFormat, frames: int = 1, *, subsampled: bool = False) -> ImageHeader:
    return ImageHeader(image_format, 4000, 3000, frames, 3, chroma_subsampled=subsampled)


@pytest.mark.parametrize("image_format", list(ImageFormat))
def test_estimate_grows_with_pixels_frames_and_input(image_format: ImageFormat) -> None:
    one = estimate_memory(header(image_format), 1_000_000)
    assert one > PROCESS_OVERHEAD + 12_000_000 * spec_for(image_format).bytes_per_pixel * 0.99
    assert estimate_memory(header(image_format, frames=3), 1_000_000) > one
    assert estimate_memory(header(image_format), 2_000_000) > one


def test_subsampled_jpeg_needs_less() -> None:
    full = estimate_memory(header(ImageFormat.JPEG), 5_000_000)
    subsampled = estimate_memory(header(ImageFormat.JPEG, subsampled=True), 5_000_000)
    assert subsampled < full


def test_200_megapixel_jpeg_is_in_the_gigabyte_range() -> None:
    # Measured through jpegli: 759 MiB worker peak for a 30 MB 200 MP 4:2:0 JPEG.
    big = ImageHeader(ImageFormat.JPEG, 17320, 11547, 1, 3, chroma_subsampled=True)
    assert 0.8e9 < estimate_memory(big, 60_000_000) < 2.5e9


def test_subsampled_cmyk_jpeg_keeps_the_full_figure() -> None:
    cmyk = ImageHeader(ImageFormat.JPEG, 4000, 3000, 1, 4, chroma_subsampled=True)
    assert bytes_per_pixel(cmyk) == spec_for(ImageFormat.JPEG).bytes_per_pixel


GIB = 1024**3
SIDE = 16383  # the default --max-pixels is SIDE x SIDE
TWO_MB = 2_000_000


def rgba16(orientation: int = 1) -> ImageHeader:
    return ImageHeader(ImageFormat.PNG, SIDE, SIDE, 1, 4, sample_bytes=2, orientation=orientation)


def test_png_estimate_scales_with_bit_depth_and_bands() -> None:
    rgb8 = ImageHeader(ImageFormat.PNG, SIDE, SIDE, 1, 3)
    # Measured: a 16383^2 16-bit RGBA PNG peaked at 20.6 B/px (5346 MiB); the old estimate
    # (7 B/px whatever the layout) said 1845 MiB for a 2 MB one.
    assert bytes_per_pixel(rgba16()) >= 20.0
    assert estimate_memory(rgba16(), TWO_MB) > 2.5 * estimate_memory(rgb8, TWO_MB)
    # ... but not wildly over: 8-bit RGB keeps its measured figure, 8-bit RGBA is in between.
    assert bytes_per_pixel(rgb8) == spec_for(ImageFormat.PNG).bytes_per_pixel
    rgba8 = ImageHeader(ImageFormat.PNG, SIDE, SIDE, 1, 4)
    assert bytes_per_pixel(rgb8) < bytes_per_pixel(rgba8) < bytes_per_pixel(rgba16()) < 24


def test_rotated_pixels_add_one_decoded_copy() -> None:
    assert bytes_per_pixel(rgba16(orientation=6)) == bytes_per_pixel(rgba16()) + 8
    photo = ImageHeader(ImageFormat.PNG, 8000, 6000, 1, 3)
    assert bytes_per_pixel(replace(photo, orientation=6)) == bytes_per_pixel(photo) + 3
    webp = ImageHeader(ImageFormat.WEBP, 4000, 3000, 1, 3, orientation=8)
    assert bytes_per_pixel(webp) == spec_for(ImageFormat.WEBP).bytes_per_pixel + 3
    # JPEG keeps its orientation tag, and animations are never rotated: no copy.
    jpeg = ImageHeader(ImageFormat.JPEG, 4000, 3000, 1, 3, orientation=6)
    assert bytes_per_pixel(jpeg) == spec_for(ImageFormat.JPEG).bytes_per_pixel
    gif = ImageHeader(ImageFormat.GIF, 400, 300, 5, 4, orientation=6)
    assert bytes_per_pixel(gif) == spec_for(ImageFormat.GIF).bytes_per_pixel


async def test_two_16_bit_rgba_pngs_are_never_admitted_together() -> None:
    estimate = estimate_memory(rgba16(), TWO_MB)
    # Under 4 GiB (where two were admitted together and peaked at 7983 MiB) not even one fits.
    with pytest.raises(TooLarge, match="--memory-budget"):
        async with MemoryBudget(4 * GIB).reserve(estimate):
            pass
    # Under a budget that holds one, the second waits until the first is done.
    budget = MemoryBudget(8 * GIB)
    second_in = asyncio.Event()

    async def second() -> None:
        async with budget.reserve(estimate):
            second_in.set()

    async with budget.reserve(estimate):
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.05)
        assert not second_in.is_set()
    await asyncio.wait_for(waiting, 5)
    assert second_in.is_set()
