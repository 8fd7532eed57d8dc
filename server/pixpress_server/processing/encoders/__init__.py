"""One small encoder per format, all with the shared `Encoder` signature, in one table."""

from __future__ import annotations

from collections.abc import Mapping

from pixpress_server.processing.encoders import gif, heif, jpeg, png, tiff, webp
from pixpress_server.processing.encoders.base import (
    Encoded,
    Encoder,
    EncodeRequest,
    KeepOriginal,
)
from pixpress_server.processing.model import ImageFormat

ENCODERS: Mapping[ImageFormat, Encoder] = {
    ImageFormat.JPEG: jpeg.encode,
    ImageFormat.PNG: png.encode,
    ImageFormat.WEBP: webp.encode,
    ImageFormat.GIF: gif.encode,
    ImageFormat.AVIF: heif.encode,
    ImageFormat.HEIF: heif.encode,
    ImageFormat.TIFF: tiff.encode,
}

__all__ = ["ENCODERS", "EncodeRequest", "Encoded", "Encoder", "KeepOriginal"]
