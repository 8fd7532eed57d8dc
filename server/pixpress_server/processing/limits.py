"""The per-request image limits, checked from a header before any pixel is decoded."""

from __future__ import annotations

from pixpress_server.errors import InvalidInput
from pixpress_server.processing.model import ImageHeader, Limits


def check_limits(header: ImageHeader, limits: Limits) -> None:
    """Raises InvalidInput naming the limit (and its flag) that the header exceeds."""
    if header.pixels > limits.max_pixels:
        raise InvalidInput(
            f"image is {header.width}x{header.height} = {header.pixels} pixels, "
            f"above the limit of {limits.max_pixels} pixels (--max-pixels)"
        )
    if header.frames > limits.max_frames:
        raise InvalidInput(
            f"image has {header.frames} frames, above the limit of {limits.max_frames} "
            f"frames (--max-frames)"
        )
