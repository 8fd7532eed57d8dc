"""The memory estimate: per-format factors from the table, input bytes, fixed overhead."""

from __future__ import annotations

import pytest
from pixpress_server.processing.formats import spec_for
from pixpress_server.processing.memory import PROCESS_OVERHEAD, estimate_memory
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
    big = ImageHeader(ImageFormat.JPEG, 17320, 11547, 1, 3, chroma_subsampled=True)
    assert 1.2e9 < estimate_memory(big, 60_000_000) < 2.5e9
