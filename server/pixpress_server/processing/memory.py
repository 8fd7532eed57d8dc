"""Peak memory estimate of one compression, from the header alone (admission control)."""

from __future__ import annotations

from pixpress_server.processing.formats import FormatSpec, spec_for
from pixpress_server.processing.model import CompressOptions, ImageFormat, ImageHeader

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
#   JPEG 4:2:0 through jpegli (issue 8; the RGB buffer is 3 B/px, jpegli streams): 40 MP
#   3.3 B/px in-process, 200 MP 759 MiB worker peak (3.3 B/px); the lossless pass on a 40 MP
#   4:2:0 source 3.5 B/px -> 4.0 (mozjpeg's 4:2:0 figure was 6.6)
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

# PNG's figure (7.0) is for 8-bit RGB; other layouts scale with the decoded pixel
# (ImageHeader.decoded_pixel_bytes, D: bands x bytes per sample). The peak is the larger of:
#   encode: D for the decoded image in memory, plus libimagequant's 8-bit RGBA copy and the
#     palette indices (7.0 - 3 = 4.0 B/px); 16-bit samples hold one more D-sized copy on the
#     way down to 8 bits. Measured: 16383^2 16-bit RGBA smooth gradient, 20.6 B/px in the
#     encode (5346 MiB peak; 4 + 2 x 8 = 20), 16-bit RGB photo 16 MP 14.6 (16);
#   lossless: oxipng's decoded copy and its filter trials (q 100, or a rejected palette),
#     2.3 x D: 16 MP 8-bit RGBA photo 12.1 B/px, 8-bit RGB 7.25 (q 100), 16-bit RGBA
#     16.0 at 268 MP; under 7.0 for 8-bit RGB, whose measured figure stays.
_PNG_PALETTE_BASE = 4.0
_PNG_LOSSLESS_COPIES = 2.3
# A quality search (target_score) scores candidates in numpy float32 (processing/score.py):
# the source's sampled planes and one candidate's working set. Peak numpy allocations
# measured (tracemalloc) on a 2.2 MP photo: 46 B/px opaque, 113 B/px with alpha (two grey
# backgrounds, float blending); the unsampled metric would take 180.
SEARCH_METRIC_OPAQUE = 55.0
SEARCH_METRIC_ALPHA = 130.0
# Turning the pixels upright decodes the whole image into memory first, and that copy lives
# until the output is written: + D per pixel. Measured on PNG: 16 MP RGB 8.2 -> 11.1 B/px,
# RGBA 12.1 -> 15.7, 16-bit RGBA 22.2 -> 29.0.


def estimate_memory(
    header: ImageHeader, input_size: int, options: CompressOptions | None = None
) -> int:
    """Peak resident bytes of a worker process compressing this image.

    pixels x frames x bytes/pixel (the format's measured figure, FormatSpec.bytes_per_pixel,
    scaled for PNG's bit depth and bands, plus a decoded copy when the pixels are rotated),
    plus the input bytes, an allowance for the output, and the worker's fixed overhead.
    A quality search (target_score or max_bytes in `options`) adds what it holds.
    """
    per_pixel = bytes_per_pixel(header)
    if options is not None and (options.target_score is not None or options.max_bytes):
        per_pixel += search_bytes_per_pixel(header, scored=options.target_score is not None)
    pixel_bytes = int(header.pixels * header.frames * per_pixel)
    return pixel_bytes + int((INPUT_COPIES + OUTPUT_COPIES) * input_size) + PROCESS_OVERHEAD


def search_bytes_per_pixel(header: ImageHeader, *, scored: bool) -> float:
    """A search's extra: the source decoded once for every candidate (D); when candidates are
    scored, a candidate's decode (D) and the metric's float32 planes."""
    if not scored:
        return float(header.decoded_pixel_bytes)
    metric = SEARCH_METRIC_ALPHA if header.bands in (2, 4) else SEARCH_METRIC_OPAQUE
    return 2.0 * header.decoded_pixel_bytes + metric


def bytes_per_pixel(header: ImageHeader) -> float:
    """Peak bytes per pixel per frame of compressing this image."""
    spec = spec_for(header.format)
    factor = spec.bytes_per_pixel
    # Subsampled CMYK is not jpegli's: it keeps the full figure.
    subsampled = header.chroma_subsampled and header.bands == 3
    if subsampled and spec.subsampled_bytes_per_pixel is not None:
        factor = spec.subsampled_bytes_per_pixel
    decoded = header.decoded_pixel_bytes
    if header.format == ImageFormat.PNG:
        wide = 1 if header.sample_bytes > 1 else 0
        palette = _PNG_PALETTE_BASE + decoded * (1 + wide)
        factor = max(factor, palette, _PNG_LOSSLESS_COPIES * decoded)
    if rotates_pixels(header, spec):
        factor += decoded
    return factor


def rotates_pixels(header: ImageHeader, spec: FormatSpec) -> bool:
    """Whether compressing turns the pixels upright (as by default: metadata not kept)."""
    return header.frames == 1 and header.orientation != 1 and not spec.keeps_orientation_tag
