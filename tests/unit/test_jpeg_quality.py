"""JPEG quality estimation from DQT tables, checked on JPEGs written at known qualities."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pixpress_server.processing.jpeg_quality import estimate_quality, read_header

from tests.conftest import FIXTURES_DIR


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as image:
        return image.convert("RGB").crop((0, 0, 256, 256))


@pytest.mark.parametrize("quality", [5, 10, 25, 40, 50, 60, 70, 75, 80, 85, 90, 95, 98, 100])
def test_estimate_matches_pillow_quality(photo: Image.Image, quality: int) -> None:
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=quality)
    estimate = estimate_quality(buffer.getvalue())
    assert estimate is not None
    assert abs(estimate - quality) <= 2


@pytest.mark.parametrize("quality", [20, 50, 75, 90])
def test_estimate_matches_libvips_quality(quality: int) -> None:
    import pyvips  # only to make test data

    image = pyvips.Image.new_from_file(str(FIXTURES_DIR / "png" / "kodim03.png"))
    data = image.jpegsave_buffer(Q=quality)
    estimate = estimate_quality(data)
    assert estimate is not None
    assert abs(estimate - quality) <= 2


def test_grayscale_has_one_table(photo: Image.Image) -> None:
    buffer = io.BytesIO()
    photo.convert("L").save(buffer, "JPEG", quality=60)
    assert estimate_quality(buffer.getvalue()) == 60
    header = read_header(buffer.getvalue())
    assert header is not None
    assert not header.chroma_subsampled


@pytest.mark.parametrize(("subsampling", "expected"), [(0, False), (1, True), (2, True)])
def test_chroma_subsampling_read_from_sof(
    photo: Image.Image, subsampling: int, expected: bool
) -> None:
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=80, subsampling=subsampling)
    header = read_header(buffer.getvalue())
    assert header is not None
    assert header.chroma_subsampled is expected


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00"])
def test_not_a_jpeg_or_no_tables(data: bytes) -> None:
    assert estimate_quality(data) is None


def test_real_photo() -> None:
    assert estimate_quality((FIXTURES_DIR / "jpeg" / "Landscape_1.jpg").read_bytes()) == 73
