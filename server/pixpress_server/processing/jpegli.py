"""jpegli (pyjpegli): 8-bit RGB in, baseline 4:2:0 JPEG out, with the source's markers put back.

pyjpegli writes no APPn segment, so a JFIF header, the ICC profile (APP2) and, when all
metadata is kept, the source's other APPn and COM segments are inserted after SOI.
"""

from __future__ import annotations

import functools

import pyjpegli

from pixpress_server.processing.jpeg_quality import JpegHeader, read_header
from pixpress_server.processing.vips import VipsImage

_SOI = b"\xff\xd8"
_APP0, _APP2, _APP14, _COM, _SOS = 0xE0, 0xE2, 0xEE, 0xFE, 0xDA
_APPN = range(0xE0, 0xF0)
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JFIF = b"JFIF\x00"
_ICC = b"ICC_PROFILE\x00"
# JFIF 1.01, no density units, 1:1 aspect, no thumbnail (what libjpeg writes by default).
DEFAULT_JFIF = b"\xff\xe0\x00\x10" + _JFIF + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def can_encode(image: VipsImage, header: JpegHeader | None) -> bool:
    """jpegli takes 8-bit RGB and writes 4:2:0: only 3-band 8-bit sources with subsampled
    chroma (4:2:0, 4:2:2, 4:4:0) qualify; grey, CMYK and 4:4:4 go to mozjpeg."""
    return (
        header is not None
        and header.chroma_subsampled
        and image.bands == 3
        and image.band_format == "uchar"
        and image.interpretation == "srgb"
    )


def encode(image: VipsImage, quality: int, source: bytes, *, keep_all: bool) -> bytes:
    """Encode the decoded pixels at `quality`; the source's ICC segments (or, with
    `keep_all`, all its APPn and COM segments but Adobe's APP14) follow SOI."""
    pixels = image.packed()
    data = bytes(pyjpegli.encode(pixels, image.width, image.height, quality))
    del pixels  # the decoded copy goes before the post-pass takes its own
    return insert_segments(data, source_segments(source, keep_all=keep_all))


def source_segments(source: bytes, *, keep_all: bool) -> list[bytes]:
    """The segments to carry over, raw and in order, read up to the first scan."""
    kept: list[bytes] = []
    position = 2
    while source.startswith(_SOI) and position + 4 <= len(source):
        if source[position] != 0xFF:
            break
        marker = source[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        if marker == _SOS:
            break
        end = position + 2 + int.from_bytes(source[position + 2 : position + 4], "big")
        segment = source[position:end]
        is_icc = marker == _APP2 and segment[4:16] == _ICC
        # APP14 (Adobe) carries a colour transform flag about the source's encoding.
        if is_icc or (keep_all and (marker in _APPN or marker == _COM) and marker != _APP14):
            kept.append(segment)
        position = end
    return kept


def insert_segments(jpeg: bytes, segments: list[bytes]) -> bytes:
    """SOI, a JFIF APP0 (the source's when kept), the segments, then the rest of `jpeg`."""
    if not jpeg.startswith(_SOI):
        return jpeg
    if not (segments and segments[0][1] == _APP0 and segments[0][4:9] == _JFIF):
        segments = [DEFAULT_JFIF, *segments]
    return _SOI + b"".join(segments) + jpeg[2:]


@functools.cache
def _tables(quality: int) -> dict[int, tuple[int, ...]]:
    # jpegli's tables depend on the quality only (checked on 16x16 and 768x512 photos).
    header = read_header(bytes(pyjpegli.encode(bytes(16 * 16 * 3), 16, 16, quality)))
    return header.tables if header is not None else {}


@functools.cache
def _qualities_by_luma() -> dict[tuple[int, ...], tuple[int, ...]]:
    """jpegli's luma table (id 0) -> the qualities that write it, ascending."""
    found: dict[tuple[int, ...], list[int]] = {}
    for quality in range(1, 101):
        luma = _tables(quality).get(0)
        if luma is not None:
            found.setdefault(luma, []).append(quality)
    return {luma: tuple(qualities) for luma, qualities in found.items()}


def made_at(header: JpegHeader) -> int | None:
    """The quality a jpegli JPEG was written at, when its tables are jpegli's (else None).

    jpegli's tables are finer than libjpeg's at the same quality (its q 75 reads as libjpeg
    q 80) while its adaptive quantisation lands on libjpeg's SSIMULACRA2 at that quality, so
    jpegli output is re-rated by the quality it was made at.
    """
    luma = header.tables.get(0)
    if luma is None:
        return None
    for quality in _qualities_by_luma().get(luma, ()):
        tables = _tables(quality)
        if all(header.tables.get(table) == values for table, values in tables.items()):
            return quality
    return None
