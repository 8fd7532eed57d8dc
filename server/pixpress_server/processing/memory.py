"""Peak memory estimate of one compression, from the header alone (admission control)."""

from __future__ import annotations

from pixpress_server.processing.formats import spec_for
from pixpress_server.processing.model import ImageHeader

MIB = 1024 * 1024

# Resident memory of an idle worker after pipeline.initialise() (Python, libvips, mozjpeg,
# oxipng, libheif...): measured 66 MiB; rounded up.
PROCESS_OVERHEAD = 80 * MIB
# Bytes held in Python besides libvips: the source file read once, the encoded output and
# the post-pass's copy of it (the guard makes outputs no larger than the input).
INPUT_COPIES = 1
OUTPUT_COPIES = 2


def estimate_memory(header: ImageHeader, input_size: int) -> int:
    """Peak resident bytes of a worker process compressing this image.

    pixels x frames x the format's measured bytes/pixel (FormatSpec.bytes_per_pixel), plus
    the input bytes, an allowance for the output, and the worker's fixed overhead.
    """
    spec = spec_for(header.format)
    factor = spec.bytes_per_pixel
    if header.chroma_subsampled and spec.subsampled_bytes_per_pixel is not None:
        factor = spec.subsampled_bytes_per_pixel
    pixel_bytes = int(header.pixels * header.frames * factor)
    return pixel_bytes + (INPUT_COPIES + OUTPUT_COPIES) * input_size + PROCESS_OVERHEAD
