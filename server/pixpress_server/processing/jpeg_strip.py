"""A JPEG's own scans with only the segments the default metadata policy keeps, in pure Python.

The cheap lossless path at the lowest efforts: no re-encode and no mozjpeg pass.
"""

from __future__ import annotations

import re

_SOI = b"\xff\xd8"
_EOI = 0xD9
_APP0, _APP2, _APP14, _COM, _SOS = 0xE0, 0xE2, 0xEE, 0xFE, 0xDA
_APPN = range(0xE0, 0xF0)
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JFIF = b"JFIF\x00"
_ICC = b"ICC_PROFILE\x00"
# The end of entropy-coded data: 0xFF then a marker code, not a stuffed 0x00, a restart
# marker (part of the scan) or another 0xFF (fill before the marker).
_MARKER_AFTER_SCAN = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")


def _kept(marker: int, segment: bytes) -> bool:
    """JFIF APP0, the ICC profile (APP2) and Adobe's APP14 (it says how the source's colours
    were transformed) stay, with every table and frame segment; EXIF, XMP, IPTC, other APPn
    and comments go."""
    if marker == _COM:
        return False
    if marker not in _APPN:
        return True
    if marker == _APP0:
        return segment[4:9] == _JFIF
    if marker == _APP2:
        return segment[4:16] == _ICC
    return marker == _APP14


def strip_metadata(jpeg: bytes) -> bytes | None:
    """SOI, the kept segments and every scan, up to and including EOI (data after EOI, such
    as an MPF preview image, goes too); None when the file does not walk to an EOI."""
    if not jpeg.startswith(_SOI):
        return None
    parts = [_SOI]
    position = 2
    in_scan = False
    while True:
        if in_scan:
            found = _MARKER_AFTER_SCAN.search(jpeg, position)
            if found is None:
                return None
            parts.append(jpeg[position : found.start()])
            position = found.start()
            in_scan = False
        if position + 2 > len(jpeg) or jpeg[position] != 0xFF:
            return None
        marker = jpeg[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == _EOI:
            parts.append(jpeg[position : position + 2])
            return b"".join(parts)
        if marker in _STANDALONE:
            parts.append(jpeg[position : position + 2])
            position += 2
            continue
        end = position + 2 + int.from_bytes(jpeg[position + 2 : position + 4], "big")
        if end < position + 4 or end > len(jpeg):
            return None
        segment = jpeg[position:end]
        if _kept(marker, segment):
            parts.append(segment)
        position = end
        in_scan = marker == _SOS
