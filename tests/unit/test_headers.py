"""The pure-Python PNG header: bit depth and EXIF orientation, as libvips reads them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
import pyvips
from pixpress_server.processing import pipeline
from pixpress_server.processing.headers import HEAD_BYTES, exif_orientation, read_header
from pixpress_server.processing.metadata import minimal_exif
from pixpress_server.processing.model import ImageFormat, Limits

LIMITS = Limits(max_pixels=100_000_000, max_frames=10)


def png(tmp_path: Path, image: pyvips.Image, orientation: int = 1) -> Path:
    if orientation != 1:
        image = image.copy()
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    path = tmp_path / f"image-{image.bands}-{image.format}-{orientation}.png"
    image.write_to_file(str(path))
    return path


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize(
    ("bands", "band_format", "sample_bytes"),
    [(3, "uchar", 1), (4, "uchar", 1), (4, "ushort", 2), (1, "ushort", 2), (2, "uchar", 1)],
)
@pytest.mark.parametrize("orientation", [1, 6, 3])
def test_png_header_agrees_with_libvips(
    tmp_path: Path, bands: int, band_format: str, sample_bytes: int, orientation: int
) -> None:
    image = (pyvips.Image.black(40, 30, bands=bands) + 7).cast(band_format)
    if band_format == "ushort":
        image = image.copy(interpretation="rgb16" if bands >= 3 else "grey16")
    path = png(tmp_path, image, orientation)
    header = read_header(path.read_bytes()[:HEAD_BYTES], ImageFormat.PNG)
    assert header is not None
    assert (header.sample_bytes, header.bands, header.orientation) == (
        sample_bytes,
        bands,
        orientation,
    )
    assert header.decoded_pixel_bytes == bands * sample_bytes
    probed = pipeline.probe(path, LIMITS)
    assert (probed.sample_bytes, probed.orientation) == (sample_bytes, orientation)


def test_metadata_chunks_past_the_head_leave_it_to_libvips(tmp_path: Path) -> None:
    data = png(tmp_path, pyvips.Image.black(8, 8, bands=3).cast("uchar")).read_bytes()
    ihdr_end = 8 + 25
    padded = data[:ihdr_end] + chunk(b"tEXt", b"c\x00" + b"x" * HEAD_BYTES) + data[ihdr_end:]
    assert read_header(padded[:HEAD_BYTES], ImageFormat.PNG) is None


def test_exif_after_the_first_idat_is_not_read(tmp_path: Path) -> None:
    data = png(tmp_path, pyvips.Image.black(8, 8, bands=3).cast("uchar")).read_bytes()
    iend = data.rindex(b"IEND") - 4
    tiff = minimal_exif(6)[10:]  # the TIFF structure of the JPEG APP1 segment
    late = data[:iend] + chunk(b"eXIf", tiff) + data[iend:]
    header = read_header(late, ImageFormat.PNG)
    assert header is not None and header.orientation == 1


def test_exif_orientation_both_byte_orders_and_damage() -> None:
    big_endian = minimal_exif(8)[10:]
    assert big_endian.startswith(b"MM")
    assert exif_orientation(big_endian) == 8
    assert exif_orientation(b"Exif\x00\x00" + big_endian) == 8
    little = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 5, 0)
    assert exif_orientation(little) == 5
    assert exif_orientation(little[:15]) == 1  # truncated inside the entry
    assert exif_orientation(b"XX*\x00garbage") == 1
    assert exif_orientation(little.replace(struct.pack("<H", 5), struct.pack("<H", 9))) == 1
