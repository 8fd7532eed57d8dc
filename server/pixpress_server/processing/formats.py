"""The format table: magic bytes, MIME types and capability flags, one row per format.

Pure Python (no pyvips): the front server sniffs uploads with it before any worker runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pixpress_server.errors import InvalidInput
from pixpress_server.processing.model import ImageFormat

Matcher = Callable[[bytes], bool]

SNIFF_BYTES = 64
"""How many leading bytes `sniff` looks at (enough for an ISOBMFF ftyp with 10 brands)."""

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"})
_JPEG2000_BRANDS = frozenset({b"jp2 ", b"jpx ", b"jpm ", b"mjp2"})
_JXL_BRANDS = frozenset({b"jxl "})


def ftyp_brands(head: bytes) -> frozenset[bytes]:
    """Major and compatible brands of an ISOBMFF `ftyp` box at offset 0 (empty if none)."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return frozenset()
    size = int.from_bytes(head[0:4], "big")
    end = min(len(head), size if size >= 16 else len(head))
    brands = {head[8:12]}
    # Compatible brands follow the 4-byte minor version.
    brands.update(head[offset : offset + 4] for offset in range(16, end - 3, 4))
    return frozenset(brands)


def _is_avif(head: bytes) -> bool:
    return bool(ftyp_brands(head) & _AVIF_BRANDS)


def _is_heif(head: bytes) -> bool:
    brands = ftyp_brands(head)
    return bool(brands & _HEIF_BRANDS) and not brands & _AVIF_BRANDS


def _prefix(*magics: bytes) -> Matcher:
    return lambda head: head.startswith(magics)


def _is_webp(head: bytes) -> bool:
    return head[0:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_jpeg2000(head: bytes) -> bool:
    return head.startswith((b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  \r\n\x87\n")) or bool(
        ftyp_brands(head) & _JPEG2000_BRANDS
    )


def _is_jxl(head: bytes) -> bool:
    return head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")) or bool(
        ftyp_brands(head) & _JXL_BRANDS
    )


def _xml_text(head: bytes) -> bytes:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()


def _is_svg(head: bytes) -> bool:
    text = _xml_text(head)
    prolog = text.startswith((b"<?xml", b"<!doctype"))
    return text.startswith(b"<svg") or (prolog and b"<svg" in text)


def _is_xml(head: bytes) -> bool:
    return _xml_text(head).startswith(b"<?xml")


def _is_pnm(head: bytes) -> bool:
    return (
        len(head) >= 3
        and head[0:1] == b"P"
        and head[1:2] in b"1234567fF"
        and head[2:3] in b" \t\r\n"
    )


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One supported format.

    `bytes_per_pixel` is the measured peak memory of one compression per pixel per frame
    (see memory.py for how it was measured).
    """

    format: ImageFormat
    mime: str
    matches: Matcher
    supports_animation: bool
    has_lossless_variant: bool
    bytes_per_pixel: float
    # Lower figure for 3-band JPEGs with subsampled chroma (ImageHeader.chroma_subsampled).
    subsampled_bytes_per_pixel: float | None = None
    # The orientation survives without rotating pixels: JPEG gets a minimal EXIF Orientation
    # segment, TIFF writes its own Orientation tag, HEIF decoders apply irot/imir.
    keeps_orientation_tag: bool = False


@dataclass(frozen=True, slots=True)
class UnsupportedSpec:
    """A format we recognise only to name it in the error."""

    name: str
    matches: Matcher


# bytes_per_pixel: measured peak RSS per pixel at q 80, ~10% margin (memory.py has the numbers).
_TIFF_MAGIC = _prefix(b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
FORMATS: tuple[FormatSpec, ...] = (
    # Subsampled 3-band JPEGs go to jpegli (or the lossless pass), which peak near 3.5 B/px;
    # everything else (4:4:4, grey, CMYK) to mozjpeg.
    FormatSpec(
        ImageFormat.JPEG, "image/jpeg", _prefix(b"\xff\xd8\xff"), False, False, 14.0, 4.0, True
    ),
    FormatSpec(ImageFormat.PNG, "image/png", _prefix(b"\x89PNG\r\n\x1a\n"), False, True, 7.0),
    FormatSpec(ImageFormat.WEBP, "image/webp", _is_webp, True, True, 38.0),
    FormatSpec(ImageFormat.GIF, "image/gif", _prefix(b"GIF87a", b"GIF89a"), True, False, 18.0),
    FormatSpec(ImageFormat.AVIF, "image/avif", _is_avif, True, True, 29.0, None, True),
    FormatSpec(ImageFormat.HEIF, "image/heif", _is_heif, True, True, 29.0, None, True),
    FormatSpec(ImageFormat.TIFF, "image/tiff", _TIFF_MAGIC, True, True, 4.5, None, True),
)

UNSUPPORTED: tuple[UnsupportedSpec, ...] = (
    UnsupportedSpec("bmp", _prefix(b"BM")),
    UnsupportedSpec("psd", _prefix(b"8BPS")),
    UnsupportedSpec("pdf", _prefix(b"%PDF")),
    UnsupportedSpec("jpeg2000", _is_jpeg2000),
    UnsupportedSpec("jxl", _is_jxl),
    UnsupportedSpec("ico", _prefix(b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")),
    UnsupportedSpec("pnm", _is_pnm),
    UnsupportedSpec("svg", _is_svg),
    UnsupportedSpec("xml", _is_xml),
    UnsupportedSpec("qoi", _prefix(b"qoif")),
    UnsupportedSpec("exr", _prefix(b"\x76\x2f\x31\x01")),
    UnsupportedSpec("hdr", _prefix(b"#?RADIANCE", b"#?RGBE")),
    UnsupportedSpec("fits", _prefix(b"SIMPLE  =")),
    UnsupportedSpec("dds", _prefix(b"DDS ")),
    UnsupportedSpec("farbfeld", _prefix(b"farbfeld")),
    UnsupportedSpec("mng", _prefix(b"\x8aMNG\r\n\x1a\n", b"\x8bJNG\r\n\x1a\n")),
)

_BY_FORMAT = {spec.format: spec for spec in FORMATS}


def spec_for(image_format: ImageFormat) -> FormatSpec:
    """The table row of a supported format."""
    return _BY_FORMAT[image_format]


def sniff(head: bytes) -> ImageFormat:
    """Detect the format from the first `SNIFF_BYTES` bytes (magic bytes only, never names).

    Raises:
        InvalidInput: "unsupported format: <name>" for recognised formats we do not
            compress, "unsupported format: unknown" otherwise.
    """
    head = head[:SNIFF_BYTES]
    for spec in FORMATS:
        if spec.matches(head):
            return spec.format
    for unsupported in UNSUPPORTED:
        if unsupported.matches(head):
            raise InvalidInput(f"unsupported format: {unsupported.name}")
    raise InvalidInput("unsupported format: unknown")
