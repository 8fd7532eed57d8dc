"""Conversions between pixpress.v1 wire messages and the server's own values, validated once."""

from __future__ import annotations

from collections.abc import Mapping

from pixpress.v1 import compress_pb2

from pixpress_server.errors import InvalidInput
from pixpress_server.processing.model import (
    DEFAULT_QUALITY,
    MAX_QUALITY,
    MIN_QUALITY,
    CompressOptions,
    CompressOutcome,
    ImageFormat,
)

_WIRE_FORMATS: Mapping[ImageFormat, compress_pb2.ImageFormat.ValueType] = {
    ImageFormat.JPEG: compress_pb2.IMAGE_FORMAT_JPEG,
    ImageFormat.PNG: compress_pb2.IMAGE_FORMAT_PNG,
    ImageFormat.WEBP: compress_pb2.IMAGE_FORMAT_WEBP,
    ImageFormat.GIF: compress_pb2.IMAGE_FORMAT_GIF,
    ImageFormat.AVIF: compress_pb2.IMAGE_FORMAT_AVIF,
    ImageFormat.HEIF: compress_pb2.IMAGE_FORMAT_HEIF,
    ImageFormat.TIFF: compress_pb2.IMAGE_FORMAT_TIFF,
}


def options_from_wire(message: compress_pb2.CompressOptions) -> CompressOptions:
    """Validate the request's options; errors name the field, the range and the value."""
    quality = message.quality if message.HasField("quality") else DEFAULT_QUALITY
    if not MIN_QUALITY <= quality <= MAX_QUALITY:
        raise InvalidInput(
            f"Expected integer between {MIN_QUALITY} and {MAX_QUALITY} for quality "
            f"but received {quality}"
        )
    return CompressOptions(quality=quality, keep_metadata=message.keep_metadata)


def result_to_wire(outcome: CompressOutcome) -> compress_pb2.CompressResult:
    header = outcome.header
    return compress_pb2.CompressResult(
        format=_WIRE_FORMATS[header.format],
        input_size=outcome.input_size,
        output_size=outcome.output_size,
        width=header.width,
        height=header.height,
        frames=header.frames,
        kept_original=outcome.kept_original,
        kept_original_reason=outcome.kept_original_reason,
        quality=outcome.quality,
        stages=[
            compress_pb2.Stage(
                name=stage.name, output_bytes=stage.output_bytes, milliseconds=stage.milliseconds
            )
            for stage in outcome.stages
        ],
    )
