"""TIFF: keep the source's compression scheme; JPEG-in-TIFF re-encoded at quality."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal

_COMPRESSION_TAG = 259
# TIFF Compression tag value -> libvips tiffsave compression.
_SCHEMES: Mapping[int, str] = {
    1: "none",
    5: "lzw",
    7: "jpeg",
    8: "deflate",
    32946: "deflate",
    32773: "packbits",
    50000: "zstd",
    50001: "webp",
}
_LOSSY = frozenset({"jpeg", "webp"})


def compression_of(source: bytes) -> int | None:
    """The Compression tag of the first IFD, read from the raw bytes (libvips hides it)."""
    order: Literal["little", "big"]
    if source[:2] == b"II":
        order = "little"
    elif source[:2] == b"MM":
        order = "big"
    else:
        return None
    if int.from_bytes(source[2:4], order) != 42:  # BigTIFF: leave to the default
        return None
    ifd = int.from_bytes(source[4:8], order)
    count = int.from_bytes(source[ifd : ifd + 2], order)
    for index in range(count):
        entry = source[ifd + 2 + 12 * index : ifd + 14 + 12 * index]
        if len(entry) == 12 and int.from_bytes(entry[0:2], order) == _COMPRESSION_TAG:
            return int.from_bytes(entry[8:10], order)
    return 1  # absent means uncompressed


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Lossless schemes stay lossless (with a predictor and the strongest level).

    Uncompressed sources become deflate: keeping "none" could only ever return the original.
    Unknown schemes (CCITT, LZMA, JPEG 2000, ...) are written as deflate.
    """
    scheme = _SCHEMES.get(compression_of(request.source) or 1, "deflate")
    if scheme == "none":
        scheme = "deflate"
    if scheme in _LOSSY and request.quality >= 100:
        return KeepOriginal(f"quality 100 on a {scheme}-compressed tiff")
    options: dict[str, object] = {"compression": scheme, "keep": request.policy.vips_keep}
    if scheme in _LOSSY:
        options["Q"] = request.quality
    elif scheme in ("deflate", "lzw", "zstd"):
        options["predictor"] = "horizontal"
        if scheme != "lzw":
            options["level"] = 9 if scheme == "deflate" else 19
    if request.image.frames > 1:
        options["page_height"] = request.image.page_height()
    data = request.image.save("tiffsave_buffer", options)
    mode = f"{scheme} q={request.quality}" if scheme in _LOSSY else scheme
    return Encoded(data, postpass=False, mode=mode)
