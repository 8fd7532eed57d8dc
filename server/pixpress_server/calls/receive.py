"""Receiving an image stream: spool the chunks, enforce the byte cap, sniff the format early."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pixpress_server.errors import InvalidInput, TooLarge
from pixpress_server.processing.formats import SNIFF_BYTES, sniff

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from pixpress_server.processing.model import ImageFormat
    from pixpress_server.spool import SpooledInput


async def receive_image(
    chunks: AsyncIterator[bytes],
    spooled: SpooledInput,
    max_bytes: int,
    cancelled: Callable[[], bool],
) -> ImageFormat:
    """Write every chunk to `spooled`; the image's format, or INVALID_ARGUMENT/RESOURCE_EXHAUSTED.

    The cap is checked before each chunk is written and unsupported formats are refused
    once the first SNIFF_BYTES have arrived, so a bad stream is cut off early.
    """
    image_format: ImageFormat | None = None
    async for chunk in chunks:
        if spooled.size + len(chunk) > max_bytes:
            raise TooLarge(f"input is larger than {max_bytes} bytes (--max-input-bytes)")
        await spooled.write(chunk)
        if image_format is None and spooled.size >= SNIFF_BYTES:
            image_format = sniff(spooled.head)
    spooled.close()
    if cancelled():
        # gRPC ends the request stream quietly when the client cancels: without this check
        # a cut-off upload would look complete.
        raise asyncio.CancelledError("the client cancelled while sending")
    if spooled.size == 0:
        raise InvalidInput("no image bytes received")
    return image_format if image_format is not None else sniff(spooled.head)
