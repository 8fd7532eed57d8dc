"""AVIF and HEIF: AV1 re-encode at quality (libheif here has no HEVC codec at all)."""

from __future__ import annotations

from pixpress_server.errors import Unencodable
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.formats import SNIFF_BYTES, ftyp_brands
from pixpress_server.processing.model import MIN_EFFORT, ImageFormat

# heifsave effort (0-9, aom speed 9 - effort) for pixpress effort 1-10. Measured with
# benchmarks/levers.py (3 Kodak photos, q 45-90, BD-rate at equal mean SSIMULACRA2 and encode
# CPU against heifsave effort 2, which the default keeps): 0 +7.1% at 0.17x CPU, 1 +2.5%
# 0.70x, 3 -3.5% 1.79x, 4 -6.4% 8.6x, 6 -8.5% 22x; above 6 was not measured or used.
HEIF_EFFORT = (0, 0, 1, 1, 2, 3, 3, 4, 5, 6)
_AV1 = "av1"


def heif_effort(effort: int) -> int:
    """libvips heifsave effort at pixpress `effort`."""
    return HEIF_EFFORT[effort - MIN_EFFORT]


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Raises Unencodable for HEVC-coded HEIF (HEIC): it can be neither decoded nor written."""
    compression = request.image.get_str("heif-compression", _AV1)
    if compression != _AV1:
        raise Unencodable(
            f"{compression} HEIF (HEIC) is not supported: this server's libheif has no "
            f"{compression} decoder or encoder, only AV1 (AVIF)",
            detail=f"heif-compression={compression}",
        )
    if request.image.format is ImageFormat.HEIF:
        # heifsave writes AV1 with AVIF brands: the output would no longer be HEIF.
        return KeepOriginal("av1 heif kept to stay heif")
    if b"avis" in ftyp_brands(request.source[:SNIFF_BYTES]):
        # libvips reads only the primary item of an AV1 image sequence.
        return KeepOriginal("avif sequence kept unchanged")
    if request.quality >= 100:
        # Lossless AV1 of the decoded pixels was never smaller than the source (fixtures:
        # 6.75 MB out of 0.38 MB in, 8 s of CPU): quality 100 keeps the original.
        return KeepOriginal("lossless av1 is larger than the source")
    options: dict[str, object] = {
        "compression": _AV1,
        "effort": heif_effort(request.effort),
        "keep": request.policy.vips_keep,
    }
    bits = request.image.get_int("bits-per-sample", 8)
    if bits in (8, 10, 12):
        options["bitdepth"] = bits
    options["Q"] = request.quality
    mode = f"q={request.quality} effort={options['effort']}"
    return Encoded(request.image.save("heifsave_buffer", options), postpass=False, mode=mode)
