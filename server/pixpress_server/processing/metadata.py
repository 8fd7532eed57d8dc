"""The metadata policy: what survives compression.

Default: the ICC profile stays (pixels are never converted, so they display the same) and
the displayed orientation stays; EXIF (GPS!), XMP, IPTC and comments go.
`keep_metadata` keeps everything, including the EXIF Orientation tag, untouched.

Orientation: JPEG keeps its EXIF Orientation tag in a minimal EXIF segment holding nothing
else (no rotation, so the lossless path and huge images work); other formats with an EXIF
orientation get their pixels rotated upright instead, since their viewers disagree on the tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixpress_server.processing.model import CompressOptions

NORMAL_ORIENTATION = 1


@dataclass(frozen=True, slots=True)
class MetadataPolicy:
    """What to keep when writing the output."""

    keep_all: bool

    @classmethod
    def from_options(cls, options: CompressOptions) -> MetadataPolicy:
        return cls(keep_all=options.keep_metadata)

    @property
    def vips_keep(self) -> str:
        """The libvips `keep` flags for a saver."""
        return "all" if self.keep_all else "icc"

    def rotate_pixels(self, orientation: int, *, keeps_tag: bool) -> bool:
        """Whether to turn the pixels upright (the EXIF tag that said how is being dropped)."""
        return not self.keep_all and not keeps_tag and orientation != NORMAL_ORIENTATION


def minimal_exif(orientation: int) -> bytes:
    """A JPEG APP1 segment whose EXIF holds only the Orientation tag (big-endian TIFF)."""
    tiff = (
        b"MM\x00\x2a"
        + (8).to_bytes(4, "big")  # IFD0 offset
        + (1).to_bytes(2, "big")  # one entry
        + (0x0112).to_bytes(2, "big")  # Orientation
        + (3).to_bytes(2, "big")  # SHORT
        + (1).to_bytes(4, "big")  # count
        + orientation.to_bytes(2, "big")
        + b"\x00\x00"  # value padding
        + (0).to_bytes(4, "big")  # no next IFD
    )
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF Orientation segment after SOI (and after a JFIF APP0 if present)."""
    if orientation == NORMAL_ORIENTATION or not jpeg.startswith(b"\xff\xd8"):
        return jpeg
    position = 2
    if jpeg[2:4] == b"\xff\xe0":
        position = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:position] + minimal_exif(orientation) + jpeg[position:]
