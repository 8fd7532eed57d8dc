"""WebP: lossy stays lossy at quality, lossless stays lossless (near-lossless below 100)."""

from __future__ import annotations

from pixpress_server.processing.encoders.base import Encoded, EncodeRequest, KeepOriginal
from pixpress_server.processing.model import MIN_EFFORT

# libwebp's method (libvips effort 0-6) for pixpress effort 1-10. Lossy, measured with
# benchmarks/levers.py (6 Kodak photos, q 50-90, BD-rate at equal mean SSIMULACRA2 and encode
# CPU, both against method 4): 0 +16.3% at 0.28x CPU, 1 +10.3% 0.38x, 2 +3.5% 0.47x,
# 3 +0.4% 1.01x (skipped: method 4's cost), 5 -2.3% 1.15x, 6 -4.5% 2.65x. The default keeps 4.
LOSSY_EFFORT = (0, 1, 2, 2, 4, 4, 5, 5, 6, 6)
# Lossless (kodim03 + kodim23, bytes and CPU against method 6): 0 +12.3% at 0.14x, 1 +4.1%
# 0.36x, 2 +2.1% 0.51x, 3 and 4 +1.1% 0.72x, 5 = 6. The default keeps 6.
LOSSLESS_EFFORT = (1, 1, 2, 4, 6, 6, 6, 6, 6, 6)
# smart_subsample (sharp YUV) never paid: BD-rate +0.0% at method 4 for 2.27x the CPU, -0.3%
# at method 6 for 1.44x, and 23 vs 15 bytes/pixel peak. It stays off.
# The other libvips levers (benchmarks/levers_webp.py, 6 Kodak photos, q 50-95, against method
# 4): smart_deblock (libwebp autofilter) -0.4% at 4.61x CPU, preset photo +2.8%, picture +2.6%,
# drawing +0.8%, passes 3 -0.1% at 2.42x; method 5 -1.8% at 1.19x, 6 -4.1% at 2.84x. None pays
# within sharp's CPU at the default (sharp runs the same libwebp at method 4, so the default's
# bytes are sharp's), and nothing here nears -10%. Against method 5, method 6 is -2.3% at
# 2.47x and method 6 + smart_deblock -3.0% at 6.00x: effort 10 alone, for the last bytes, takes
# smart_deblock (-0.7% for 2.4x effort 9's CPU). alpha_q stays 100 (sharp's
# too): below it alpha turns lossy, and on a radial-alpha kodim23 at Q 75 alpha_q 90 gave more
# bytes than 100 (57 vs 52 kB), 75 and 50 fewer (38, 28 kB).


SMART_DEBLOCK_EFFORT = 10


def lossy_effort(effort: int) -> int:
    """libvips webpsave effort for a lossy encode at pixpress `effort`."""
    return LOSSY_EFFORT[effort - MIN_EFFORT]


def is_lossless_webp(source: bytes) -> bool:
    """True when the first image bitstream is VP8L (also inside ANMF animation frames)."""
    position = 12
    while position + 8 <= len(source):
        fourcc = source[position : position + 4]
        size = int.from_bytes(source[position + 4 : position + 8], "little")
        if fourcc == b"VP8L":
            return True
        if fourcc == b"VP8 ":
            return False
        if fourcc == b"ANMF":
            # Frame header (16 bytes) then the frame's own chunks.
            position += 8 + 16
            continue
        position += 8 + size + (size & 1)
    return False


def encode(request: EncodeRequest) -> Encoded | KeepOriginal:
    """Frames, delays and loop count travel as image metadata and are written back."""
    keep = request.policy.vips_keep
    if is_lossless_webp(request.source):
        effort = LOSSLESS_EFFORT[request.effort - MIN_EFFORT]
        options: dict[str, object] = {"lossless": True, "effort": effort, "keep": keep}
        if request.quality < 100:
            # near_lossless: libvips maps Q onto libwebp's pre-processing level (100 = off).
            options |= {"near_lossless": True, "Q": request.quality}
        else:
            options["exact"] = True  # keep RGB under fully transparent pixels
        mode = "lossless" if request.quality >= 100 else f"near-lossless q={request.quality}"
        mode += f" effort={effort}"
        return Encoded(request.image.save("webpsave_buffer", options), postpass=False, mode=mode)
    if request.quality >= 100:
        # A lossless copy of decoded lossy pixels is always bigger than the source.
        return KeepOriginal("lossy source at quality 100")
    effort = lossy_effort(request.effort)
    options = {"Q": request.quality, "effort": effort, "keep": keep}
    mode = f"q={request.quality} effort={effort}"
    if request.effort >= SMART_DEBLOCK_EFFORT:
        options["smart_deblock"] = True
        mode += " smart_deblock"
    data = request.image.save("webpsave_buffer", options)
    return Encoded(data, postpass=False, mode=mode)
