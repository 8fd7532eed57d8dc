"""The format table: magic-byte sniffing, unsupported formats named, AVIF vs HEIF by brands."""

from __future__ import annotations

import struct

import pytest
from pixpress_server.errors import InvalidInput
from pixpress_server.processing.formats import FORMATS, SNIFF_BYTES, sniff, spec_for
from pixpress_server.processing.model import ImageFormat

from tests.conftest import FIXTURES_DIR


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08meta"


SUPPORTED = [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", ImageFormat.JPEG),
    (b"\xff\xd8\xff\xdb\x00\x43\x00", ImageFormat.JPEG),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ImageFormat.PNG),
    (b"GIF87a\x01\x00\x01\x00", ImageFormat.GIF),
    (b"GIF89a\x01\x00\x01\x00", ImageFormat.GIF),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", ImageFormat.WEBP),
    (b"II*\x00\x08\x00\x00\x00", ImageFormat.TIFF),
    (b"MM\x00*\x00\x00\x00\x08", ImageFormat.TIFF),
    (b"II+\x00\x08\x00\x00\x00", ImageFormat.TIFF),
    (ftyp(b"avif", b"mif1", b"miaf"), ImageFormat.AVIF),
    (ftyp(b"avis", b"msf1", b"iso8"), ImageFormat.AVIF),
    (ftyp(b"mif1", b"avif", b"miaf"), ImageFormat.AVIF),
    (ftyp(b"heic", b"mif1", b"heic"), ImageFormat.HEIF),
    (ftyp(b"mif1", b"heic"), ImageFormat.HEIF),
    (ftyp(b"heix", b"mif1"), ImageFormat.HEIF),
    (ftyp(b"msf1", b"hevc"), ImageFormat.HEIF),
    (ftyp(b"hevx"), ImageFormat.HEIF),
]


@pytest.mark.parametrize(("head", "expected"), SUPPORTED)
def test_sniff_supported(head: bytes, expected: ImageFormat) -> None:
    assert sniff(head) is expected


UNSUPPORTED = [
    (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00", "bmp"),
    (b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'>", "svg"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' width='1'>", "svg"),
    (b"\xef\xbb\xbf  <svg>", "svg"),
    (b"<?xml version='1.0'?><rss>", "xml"),
    (b"8BPS\x00\x01\x00\x00", "psd"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 ", "jpeg2000"),
    (b"\xff\x4f\xff\x51\x00\x2f", "jpeg2000"),
    (b"%PDF-1.7\n", "pdf"),
    (b"\xff\x0a\xfa\x7f", "jxl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl"),
    (b"\x00\x00\x01\x00\x01\x00\x10\x10", "ico"),
    (b"P6\n640 480\n255\n", "pnm"),
    (b"P5 1 1 255 ", "pnm"),
    (b"qoif\x00\x00\x00\x01", "qoi"),
    (b"#?RADIANCE\n", "hdr"),
]


@pytest.mark.parametrize(("head", "name"), UNSUPPORTED)
def test_sniff_names_unsupported_formats(head: bytes, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        sniff(head)
    assert caught.value.public_message == f"unsupported format: {name}"


@pytest.mark.parametrize(
    "head",
    [b"", b"\x00", b"hello world, not an image", b"RIFF\x00\x00\x00\x00WAVEfmt ", ftyp(b"mp42")],
)
def test_sniff_unknown(head: bytes) -> None:
    with pytest.raises(InvalidInput, match=r"^unsupported format: unknown$"):
        sniff(head)


def test_sniff_uses_only_the_first_bytes() -> None:
    assert SNIFF_BYTES <= 64
    assert sniff(b"\x89PNG\r\n\x1a\n" + b"\x00" * 1000) is ImageFormat.PNG


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jpeg/Landscape_1.jpg", ImageFormat.JPEG),
        ("png/kodim03.png", ImageFormat.PNG),
        ("gif/animation.gif", ImageFormat.GIF),
        ("webp/random_lossy.webp", ImageFormat.WEBP),
        ("webp/random_lossless.webp", ImageFormat.WEBP),
        ("avif/hato.profile0.8bpc.yuv420.avif", ImageFormat.AVIF),
        ("avif/star-8bpc.avifs", ImageFormat.AVIF),
    ],
)
def test_sniff_real_files(name: str, expected: ImageFormat) -> None:
    assert sniff((FIXTURES_DIR / name).read_bytes()[:SNIFF_BYTES]) is expected


def test_table_has_one_row_per_format() -> None:
    assert {spec.format for spec in FORMATS} == set(ImageFormat)
    for image_format in ImageFormat:
        spec = spec_for(image_format)
        assert spec.mime.startswith("image/")
        assert spec.bytes_per_pixel > 0
    assert spec_for(ImageFormat.GIF).supports_animation
    assert not spec_for(ImageFormat.JPEG).supports_animation
