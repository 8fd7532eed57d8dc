"""JPEG: jpegli (or mozjpeg where jpegli cannot) below the source's own quality, else lossless.

Effort picks the encoder: 1-2 jpegli alone, 3-10 jpegli then the mozjpeg lossless pass.
Sources jpegli cannot take (grey, CMYK, 4:4:4) get libvips' mozjpeg: Huffman-optimised
baseline at 1-2, trellis at 3-7, trellis and scan optimisation at 8-10. On the lossless path
(the source at or below the quality asked) efforts 1-2 send the source's own scans with its
metadata stripped instead of the pass; quality 100 always runs the pass.
"""

from __future__ import annotations

from pixpress_server.processing import jpegli, vips
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.jpeg_quality import JpegHeader, estimate_quality, read_header
from pixpress_server.processing.jpeg_strip import strip_metadata
from pixpress_server.processing.metadata import NORMAL_ORIENTATION, with_orientation

# Measured with benchmarks/levers.py (8 Kodak photos + Landscape_1, q 50-90, BD-rate at equal
# mean SSIMULACRA2, encode CPU per MP) against mozjpeg with every option on (table 0, the
# encoder before issue 8): jpegli+pass -12.8% at 0.51x CPU (-5.7% vs sharp's table-3 preset,
# 0.55x its CPU); jpegli alone -4.1% at 0.06x (-6.1% vs libjpeg-turbo-like optimised
# progressive, at 0.35x its CPU); mozjpeg without optimize_scans +1.2% at 0.68x.
#
# Annex K (IJG) tables for mozjpeg. Table 3 (mozjpeg's default) needs 7.6% fewer bytes than
# table 0 at equal score, but its `quality` then reads as a coarser one; the mozjpeg path
# serves only what jpegli cannot take, and table 0 keeps `quality` the familiar libjpeg scale
# that jpeg_quality estimates sources on (a re-run takes the lossless path).
QUANT_TABLE = 0
# Efforts up to FAST_EFFORT spend the least CPU: jpegli without the lossless pass, mozjpeg
# without trellis.
FAST_EFFORT = 2
# From this effort on the mozjpeg path also optimises its progressive scans.
SCANS_EFFORT = 8


def source_quality(source: bytes, header: JpegHeader | None = None) -> int | None:
    """The source's quality on the libjpeg scale: the quality jpegli output was made at (its
    tables are recognised), else the IJG quality of the closest tables. `header` is
    `read_header(source)` when the caller has it."""
    if header is None:
        header = read_header(source)
    made_at = jpegli.made_at(header) if header is not None else None
    return made_at if made_at is not None else estimate_quality(source, header)


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Re-encode at `quality` only when that is below the source's quality.

    At quality 100, or at/above the source's quality, the original bytes go to the lossless
    post-pass instead: re-encoding would spend bytes on re-creating the source's artefacts.
    """
    header = read_header(request.source)
    quality = source_quality(request.source, header)
    if request.quality >= 100 or (quality is not None and request.quality >= quality):
        return _lossless(request, quality)

    fast = request.effort <= FAST_EFFORT
    orientation = request.image.get_int("orientation", NORMAL_ORIENTATION)
    if jpegli.can_encode(request.image, header):
        data = jpegli.encode(
            request.image, request.quality, request.source, keep_all=request.policy.keep_all
        )
        if not request.policy.keep_all:
            data = with_orientation(data, orientation)
        # jpegli writes baseline with standard Huffman tables: the pass (optimised Huffman,
        # progressive scans) takes 9% off its bytes, losslessly.
        mode = "jpegli" if fast else "jpegli+pass"
        return Encoded(data, postpass=not fast, mode=f"{mode} q={request.quality}")

    # Keep the source's chroma resolution instead of libvips' "4:4:4 from Q 90" switch, which
    # measured +36% bytes for +0.3 SSIMULACRA2; 4:2:2/4:4:0 sources go to 4:2:0 (libvips
    # offers only on/off).
    subsampled = header is not None and header.chroma_subsampled
    trellis = not fast
    data = request.image.save(
        "jpegsave_buffer",
        {
            "Q": request.quality,
            "trellis_quant": trellis,
            "overshoot_deringing": trellis,
            "optimize_scans": request.effort >= SCANS_EFFORT,
            "optimize_coding": True,
            "interlace": trellis,
            "quant_table": QUANT_TABLE,
            "subsample_mode": "on" if subsampled else "off",
            "keep": request.policy.vips_keep,
        },
    )
    if not request.policy.keep_all:
        data = with_orientation(data, orientation)
    # The mozjpeg lossless pass after a mozjpeg encode measured 0 bytes saved: skip it.
    mode = "mozjpeg fast" if fast else "mozjpeg"
    return Encoded(data, postpass=False, mode=f"{mode} q={request.quality}")


def _lossless(request: EncodeRequest, quality: int | None) -> Encoded:
    mode = f"lossless (source q={quality})"
    image = request.image
    # The pass cost 0.07-0.11 CPU-s/MP on Landscape_1 (7x a jpegli encode, 2.2x thumbor's whole
    # decode and encode) for 4.6% of its bytes: below quality 100 the fast efforts send the
    # source's own scans (benchmarks/jpeg_profile.py).
    if request.effort <= FAST_EFFORT and request.quality < 100:
        keep_all = request.policy.keep_all
        kept = request.source if keep_all else strip_metadata(request.source)
        if kept is not None:  # else a structure the walker does not follow: the pass copes
            vips.check_jpeg_decodes(request.source, image.width, image.height)
            if not keep_all:
                kept = with_orientation(kept, image.get_int("orientation", NORMAL_ORIENTATION))
            return Encoded(kept, postpass=False, mode=mode, pixels_kept=True)
    # mozjpeg transcodes truncated or corrupt data with only a warning: decode to check.
    image.check_decodes()
    return Encoded(request.source, postpass=True, mode=mode, pixels_kept=True)
