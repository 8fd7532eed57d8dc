"""Peak memory estimate of one compression, from the header alone (admission control)."""

from __future__ import annotations

from pixpress_server.processing.formats import spec_for
from pixpress_server.processing.model import ImageHeader

MIB = 1024 * 1024

# Per-format factors (formats.FORMATS bytes_per_pixel) were measured as
#   (peak RSS of a fresh worker compressing at q 80 - its idle RSS - 3 x input bytes) / pixels
# on photos generated from kodim23 (upscaled + noise), 2 cores, libvips default threads:
#   JPEG 40 MP 4:4:4 (source q92)   12.7 B/px   (541 MiB peak)   -> 14.0
#   JPEG 40 MP 4:2:0                 7.2 B/px   (301 MiB peak)
#   JPEG 200 MP 4:2:0 (benchmark)    6.0 B/px   (1287 MiB peak)  ->  6.6: within 10% of both
#   PNG (palette accepted, oxipng level 1): 30 MP 8.2 B/px (482 MiB peak, 77 MB input),
#   50 MP 5.7 B/px (538 MiB peak, 84 MB input); PNG memory follows the input size too
#   (oxipng trials), so 7.0 fits both within 3% / 15% above the real peak -> 7.0
#   JPEG 200 MP 4:2:0 (source q85): 1326 MiB peak vs 1583 MiB estimated (1.19x)
#   WebP 30 MP lossy 14.9 B/px; lossless 20 MP (near-lossless) 35.3 B/px -> 38.0 (one figure)
#   GIF 20 MP 16.0, AVIF 12 MP 26.5 (heifsave AV1), TIFF deflate 30 MP ~0, JPEG-TIFF ~0
#   (TIFF streams strip by strip: 4.5 covers the decoded strips and the copies).
# The reference figures (libvips mozjpeg ~7.2 B/px for 4:2:0, palette PNG ~5.5, WebP ~5.8)
# measured the encoder alone; ours include decoding, the palette acceptance check and oxipng.
# Resident memory of an idle worker after pipeline.initialise() and a few small images
# (Python, libvips, mozjpeg, oxipng, libheif): measured 31 MiB.
PROCESS_OVERHEAD = 48 * MIB
# Bytes held in Python besides libvips: the source file read once, the encoded output and
# the post-pass's copy of it (the guard makes outputs no larger than the input).
INPUT_COPIES = 1
OUTPUT_COPIES = 1.5  # the output and a post-pass copy, which is usually much smaller


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
    return pixel_bytes + int((INPUT_COPIES + OUTPUT_COPIES) * input_size) + PROCESS_OVERHEAD
