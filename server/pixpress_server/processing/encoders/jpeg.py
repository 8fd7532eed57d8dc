"""JPEG: mozjpeg re-encode below the source's own quality, else lossless optimisation."""

from __future__ import annotations

from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.jpeg_quality import estimate_quality, read_header
from pixpress_server.processing.metadata import NORMAL_ORIENTATION, with_orientation

# Annex K (IJG) tables. Measured on 5 Kodak photos with trellis at q 50-92, bytes at equal
# luma SSIM: table 0 = table 3 (mozjpeg's default) at q 65, 1% better at q 75-85; table 2
# 1.6% better. Table 0 wins on meaning: `quality` is then the familiar libjpeg scale, the one
# jpeg_quality estimates sources on, so a re-run on our own output takes the lossless path.
QUANT_TABLE = 0


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Re-encode at `quality` only when that is below the source's estimated quality.

    At quality 100, or at/above the source's quality, the original bytes go to the lossless
    post-pass instead: re-encoding would spend bytes on re-creating the source's artefacts.
    """
    source_quality = estimate_quality(request.source)
    if request.quality >= 100 or (source_quality is not None and request.quality >= source_quality):
        # mozjpeg transcodes truncated or corrupt data with only a warning: decode to check.
        request.image.check_decodes()
        return Encoded(request.source, postpass=True, mode=f"lossless (source q={source_quality})")

    header = read_header(request.source)
    # Keep the source's chroma resolution instead of libvips' "4:4:4 from Q 90" switch, which
    # measured +36% bytes for +0.3 SSIMULACRA2; 4:2:2/4:4:0 sources go to 4:2:0 (libvips
    # offers only on/off).
    subsampled = header is not None and header.chroma_subsampled
    data = request.image.save(
        "jpegsave_buffer",
        {
            "Q": request.quality,
            "trellis_quant": True,
            "overshoot_deringing": True,
            "optimize_scans": True,
            "optimize_coding": True,
            "interlace": True,
            "quant_table": QUANT_TABLE,
            "subsample_mode": "on" if subsampled else "off",
            "keep": request.policy.vips_keep,
        },
    )
    orientation = request.image.get_int("orientation", NORMAL_ORIENTATION)
    if not request.policy.keep_all:
        data = with_orientation(data, orientation)
    # The mozjpeg lossless pass after a mozjpeg encode measured 0 bytes saved: skip it.
    return Encoded(data, postpass=False, mode=f"q={request.quality}")
