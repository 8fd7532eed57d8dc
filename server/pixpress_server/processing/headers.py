"""Image dimensions and frame counts read from the first bytes, in pure Python.

The front server uses these for admission without a round trip to a worker. They cover
JPEG, PNG, GIF and WebP; anything else, or anything unusual (a header past `head`, a
malformed segment), answers None and the caller asks a worker to probe with libvips. The
worker checks the limits again with libvips' own reading, so a header that lies here
cannot get past them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

from pixpress_server.processing import jpeg_quality
from pixpress_server.processing.model import ImageFormat, ImageHeader

HEAD_BYTES = 256 * 1024
"""Bytes of the file to pass in: enough for JPEG EXIF/ICC segments and small GIFs."""

_PNG_BANDS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}  # palette: libvips expands to RGB(A)
_ORIENTATION_TAG = 0x0112
_SHORT = 3


def exif_orientation(exif: bytes) -> int:
    """The Orientation tag of IFD0 in a TIFF-structured EXIF block; 1 if absent or unreadable."""
    exif = exif.removeprefix(b"Exif\x00\x00")
    order = {b"II": "<", b"MM": ">"}.get(exif[:2])
    if order is None or len(exif) < 8:
        return 1
    (ifd,) = struct.unpack(order + "I", exif[4:8])
    if ifd + 2 > len(exif):
        return 1
    (count,) = struct.unpack(order + "H", exif[ifd : ifd + 2])
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(exif) - 11), 12):
        tag, kind, _, value = struct.unpack(order + "HHIH", exif[entry : entry + 10])
        if tag == _ORIENTATION_TAG and kind == _SHORT:
            return value if 1 <= value <= 8 else 1
    return 1


def _png_orientation(head: bytes) -> int | None:
    """From an eXIf chunk ahead of the first IDAT (where libvips reads it); None when the
    chunks before IDAT reach past `head`."""
    pos = 8
    while pos + 8 <= len(head):
        (length,) = struct.unpack(">I", head[pos : pos + 4])
        kind = head[pos + 4 : pos + 8]
        if kind == b"IDAT":
            return 1
        end = pos + 12 + length
        if end > len(head):
            return None
        if kind == b"eXIf":
            return exif_orientation(head[pos + 8 : end - 4])
        pos = end
    return None


def _png(head: bytes) -> ImageHeader | None:
    # signature (8) + IHDR length (4) + "IHDR" (4) + width, height, depth, colour type
    if len(head) < 26 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    bands = _PNG_BANDS.get(head[25])
    orientation = _png_orientation(head)
    if bands is None or orientation is None:
        return None
    return ImageHeader(
        ImageFormat.PNG,
        width,
        height,
        frames=1,
        bands=bands,
        sample_bytes=2 if head[24] == 16 else 1,  # 1, 2 and 4 bits decode to bytes
        orientation=orientation,
    )


def _jpeg(head: bytes) -> ImageHeader | None:
    header = jpeg_quality.read_header(head)
    if header is None or header.size is None:
        return None
    width, height = header.size
    return ImageHeader(
        ImageFormat.JPEG,
        width,
        height,
        frames=1,
        bands=len(header.components),
        chroma_subsampled=header.chroma_subsampled,
    )


def _skip_sub_blocks(data: bytes, pos: int) -> int | None:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    return None


def _gif(head: bytes) -> ImageHeader | None:
    """Counts image descriptors; the whole file must be in `head`.

    Like libvips, the canvas grows to hold frames that reach past the logical screen.
    """
    if len(head) < 13:
        return None
    width, height = struct.unpack("<HH", head[6:10])
    flags = head[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0
    while pos < len(head):
        block = head[pos]
        if block == 0x3B:  # trailer
            return ImageHeader(ImageFormat.GIF, width, height, frames=max(frames, 1), bands=4)
        if block == 0x21:  # extension: label, then sub-blocks
            next_pos = _skip_sub_blocks(head, pos + 2)
        elif block == 0x2C:  # image descriptor, optional local table, LZW size, sub-blocks
            if pos + 10 > len(head):
                return None
            frames += 1
            left, top, frame_width, frame_height = struct.unpack("<HHHH", head[pos + 1 : pos + 9])
            width, height = max(width, left + frame_width), max(height, top + frame_height)
            local = head[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            next_pos = _skip_sub_blocks(head, pos + 1)
        else:
            return None
        if next_pos is None:
            return None
        pos = next_pos
    return None  # no trailer within head: let libvips count


def _webp(head: bytes) -> ImageHeader | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return ImageHeader(ImageFormat.WEBP, width & 0x3FFF, height & 0x3FFF, 1, 3)
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        return ImageHeader(ImageFormat.WEBP, width, height, 1, 4)
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        animated = bool(head[20] & 0x02)
        frames = _count_webp_frames(head) if animated else 1
        if frames is None:
            return None
        return ImageHeader(ImageFormat.WEBP, width, height, frames, 4)
    return None


def _count_webp_frames(head: bytes) -> int | None:
    """ANMF chunks in the RIFF body; None when the file extends past `head`."""
    riff_end = 8 + int.from_bytes(head[4:8], "little")
    if riff_end > len(head):
        return None
    frames, pos = 0, 12
    while pos + 8 <= riff_end:
        size = int.from_bytes(head[pos + 4 : pos + 8], "little")
        frames += head[pos : pos + 4] == b"ANMF"
        pos += 8 + size + (size & 1)
    return frames or None


_READERS: Mapping[ImageFormat, Callable[[bytes], ImageHeader | None]] = {
    ImageFormat.PNG: _png,
    ImageFormat.JPEG: _jpeg,
    ImageFormat.GIF: _gif,
    ImageFormat.WEBP: _webp,
}


def read_header(head: bytes, image_format: ImageFormat) -> ImageHeader | None:
    """The header, or None when only libvips can tell (then probe in a worker)."""
    reader = _READERS.get(image_format)
    return None if reader is None else reader(head)
