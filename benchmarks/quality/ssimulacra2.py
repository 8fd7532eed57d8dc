"""SSIMULACRA2 score of a distorted image against its reference, in numpy.

A re-implementation of the reference metric (libjxl tools/ssimulacra2.cc, Jon Sneyers),
alpha handling included; README.md beside this file records how closely it agrees.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["ALPHA_BACKGROUNDS", "MIN_SIZE", "score"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

MIN_SIZE: Final = 8
"""The reference tool refuses images narrower or shorter than this."""

ALPHA_BACKGROUNDS: Final = (0.1, 0.9)
"""Grey levels (sRGB-encoded, 0..1) the reference blends transparent images onto; the worse
of the two scores is reported."""

_NUM_SCALES: Final = 6
_C2: Final = 0.0009
_SIGMA: Final = 1.5

# Opsin absorbance: linear sRGB -> LMS-like mix, then a biased cube root (libjxl's XYB).
_OPSIN: Final = np.array(
    [
        [0.30, 0.622, 0.078],
        [0.23, 0.692, 0.078],
        [0.24342268924547819, 0.20476744424496821, 1.0 - 0.24342268924547819 - 0.20476744424496821],
    ]
)
_OPSIN_BIAS: Final = 0.0037930732552754493

# Order: for channel X, Y, B; for each computed scale; for the 1-norm then the 4-norm:
# (1 - SSIM), ringing/artifact, blur/detail lost.
_WEIGHTS: Final = np.array(
    [
        0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0,
        0.0, 0.0004371155730107379, 0.0, 1.1041726426657346, 0.00066284834129271,
        0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0, 1.8422455520539298,
        11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
        1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072,
        0.9677937080626833, 0.0, 0.00014003424285435884, 0.9981766977854967,
        0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398,
        0.0, 0.0, 0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262,
        0.0006235601634041466, 0.0, 0.0, 6.683678146179332, 0.00037724407979611296,
        1.027889937768264, 225.20515300849274, 0.0, 0.0, 19.213238186143016,
        0.0011401524586618361, 0.001237755635509985, 176.39317598450694, 0.0, 0.0,
        24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0, 0.0,
        34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0,
        0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336,
        0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0, 8.826982764996862,
        23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682, 0.9834382792465353,
        0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
        0.0005130064588990679, 0.0, 0.00010854057858411537,
    ]
)  # fmt: skip


def recursive_gaussian_taps(sigma: float = _SIGMA) -> F64:
    """The FIR kernel that the reference's recursive Gaussian computes, centre tap in the middle.

    The reference blurs with Charalampidis' recursive filter ("truncated cosines", 2016): three
    second-order IIR sections fed with in[n-N-1] + in[n+N-1]. Because each section's frequency is
    an odd multiple of pi/2N, its response cancels exactly after 2N samples: in exact arithmetic
    the recursion *is* a symmetric FIR filter with 2N-1 taps (9 for sigma 1.5), zero outside the
    image. Applying those taps directly gives the same result, vectorised.

    Args:
        sigma: standard deviation the filter approximates.

    Returns:
        The 2N-1 taps.
    """
    radius = math.floor(3.2795 * sigma + 0.2546 + 0.5)  # C's round(): half away from zero
    omega = np.array([1.0, 3.0, 5.0]) * math.pi / (2.0 * radius)
    p = np.array([1.0, -1.0, 1.0]) / np.tan(0.5 * omega)
    r = np.array([1.0, -1.0, 1.0]) * p * p / np.sin(omega)
    rho = np.exp(-0.5 * sigma * sigma * omega * omega) / radius
    d_13 = p[0] * r[1] - r[0] * p[1]
    d_35 = p[1] * r[2] - r[1] * p[2]
    d_51 = p[2] * r[0] - r[2] * p[0]
    zeta_15, zeta_35 = d_35 / d_13, d_51 / d_13
    matrix = np.array([p, r, [zeta_15, zeta_35, 1.0]])
    gamma = np.array(
        [1.0, radius * radius - sigma * sigma, zeta_15 * rho[0] + zeta_35 * rho[1] + rho[2]]
    )
    beta = np.linalg.solve(matrix, gamma)
    n2 = -beta * np.cos(omega * (radius + 1.0))
    # Impulse response of y[n] = n2*x[n] + 2cos(w)*y[n-1] - y[n-2] is n2*sin((m+1)w)/sin(w);
    # the output at n sees in[n+d] at lag m = N-1-d.
    offsets = np.arange(-(radius - 1), radius)
    lag_plus_one = (radius - offsets)[:, None] * omega[None, :]
    taps: F64 = (n2 * np.sin(lag_plus_one) / np.sin(omega)).sum(axis=1)
    return taps


_TAPS: Final = recursive_gaussian_taps().astype(np.float32)


def _fir(planes: F32, axis: int) -> F32:
    """Symmetric FIR along `axis` with zero padding (the reference treats outside as 0)."""
    reach = (len(_TAPS) - 1) // 2
    size = planes.shape[axis]
    pad = [(0, 0)] * planes.ndim
    pad[axis] = (reach, reach)
    padded = np.pad(planes, pad)

    def shifted(offset: int) -> F32:
        index: list[slice] = [slice(None)] * planes.ndim
        index[axis] = slice(reach + offset, reach + offset + size)
        return padded[tuple(index)]

    out = planes * _TAPS[reach]
    for offset in range(1, reach + 1):
        both = shifted(-offset) + shifted(offset)
        both *= _TAPS[reach + offset]
        out += both
    result: F32 = out
    return result


def _blur(planes: F32) -> F32:
    """Separable blur of (..., height, width) planes: rows first, then columns."""
    return _fir(_fir(planes, -1), -2)


def _srgb_to_linear(encoded: F32) -> F32:
    low = encoded / np.float32(12.92)
    high = ((encoded + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4)
    return np.where(encoded <= np.float32(0.04045), low, high).astype(np.float32)


def _positive_xyb(linear: F32) -> F32:
    """Linear RGB planes (3, h, w) -> XYB rescaled to roughly 0..1, B replaced by B - Y."""
    mixed = np.einsum("ij,jhw->ihw", _OPSIN.astype(np.float32), linear)
    mixed += np.float32(_OPSIN_BIAS)
    np.maximum(mixed, 0.0, out=mixed)
    mixed = np.cbrt(mixed) - np.float32(np.cbrt(_OPSIN_BIAS))
    x = np.float32(0.5) * (mixed[0] - mixed[1])
    y = np.float32(0.5) * (mixed[0] + mixed[1])
    return np.stack(
        [
            x * np.float32(14.0) + np.float32(0.42),
            y + np.float32(0.01),
            (mixed[2] - y) + np.float32(0.55),
        ]
    )


def _downsample(linear: F32) -> F32:
    """2x2 box average; an odd last row/column is repeated, as in the reference."""
    _, height, width = linear.shape
    if height % 2 or width % 2:
        linear = np.pad(linear, ((0, 0), (0, height % 2), (0, width % 2)), mode="edge")
    total = linear[:, 0::2, 0::2] + linear[:, 0::2, 1::2]
    total += linear[:, 1::2, 0::2]
    total += linear[:, 1::2, 1::2]
    total *= np.float32(0.25)
    return total


def _norms(error: F64) -> tuple[F64, F64]:
    """Per-channel 1-norm (mean) and 4-norm of non-negative (3, h, w) error maps."""
    squared = error * error
    return error.mean(axis=(1, 2)), np.sqrt(np.sqrt((squared * squared).mean(axis=(1, 2))))


def _scale_features(xyb1: F32, xyb2: F32) -> F64:
    """(3 channels, 2 norms, 3 maps) for one scale: 1-SSIM', ringing, blurring."""
    blurred = _blur(np.stack([xyb1 * xyb1, xyb2 * xyb2, xyb1 * xyb2, xyb1, xyb2]))
    sigma11, sigma22, sigma12, mu1, mu2 = blurred
    mu_diff = mu1 - mu2
    # SSIM without the luminance term's denominator (the reference's "no double gamma").
    num_m = np.float32(1.0) - mu_diff * mu_diff
    num_s = np.float32(2.0) * (sigma12 - mu1 * mu2) + np.float32(_C2)
    denom_s = (sigma11 - mu1 * mu1) + (sigma22 - mu2 * mu2) + np.float32(_C2)
    ssim_error = np.maximum(1.0 - (num_m * num_s / denom_s).astype(np.float64), 0.0)

    edge1 = np.abs(xyb1 - mu1).astype(np.float64)
    edge2 = np.abs(xyb2 - mu2).astype(np.float64)
    ratio = (1.0 + edge2) / (1.0 + edge1) - 1.0
    artifact = np.maximum(ratio, 0.0)  # distorted has edges where the reference is smooth
    detail_lost = np.maximum(-ratio, 0.0)  # the reference has edges the distorted lost

    features = np.empty((3, 2, 3))
    for index, error in enumerate((ssim_error, artifact, detail_lost)):
        features[:, 0, index], features[:, 1, index] = _norms(error)
    return features


def _msssim_score(linear1: F32, linear2: F32) -> float:
    per_scale: list[F64] = []
    for scale in range(_NUM_SCALES):
        # Like the reference, the size test looks at the image *before* this scale's halving.
        if min(linear1.shape[1:]) < MIN_SIZE:
            break
        if scale:
            linear1, linear2 = _downsample(linear1), _downsample(linear2)
        per_scale.append(_scale_features(_positive_xyb(linear1), _positive_xyb(linear2)))

    # Channel-major order over the scales actually computed; with fewer than six scales
    # (images under ~113 px) later channels take earlier weights: the reference does the same.
    features = np.stack(per_scale, axis=1).reshape(-1)
    total = float(np.dot(_WEIGHTS[: features.size], np.abs(features)))

    total *= 0.9562382616834844
    total = (
        2.326765642916932 * total
        - 0.020884521182843837 * total * total
        + 6.248496625763138e-05 * total * total * total
    )
    if total > 0.0:
        return 100.0 - 10.0 * float(total**0.6276336467831387)
    return 100.0


def _as_unit_float(image: npt.NDArray[np.integer[Any]], name: str) -> F32:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"Expected a numpy array for {name} but received {type(image).__name__}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"Expected uint8 or uint16 pixels for {name} but received {image.dtype}")
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(
            f"Expected an RGB or RGBA array (height, width, 3|4) for {name} "
            f"but received shape {image.shape}"
        )
    scale = np.float32(1.0 / np.iinfo(image.dtype).max)
    return np.moveaxis(image.astype(np.float32) * scale, 2, 0)


def score(
    reference: npt.NDArray[np.integer[Any]], distorted: npt.NDArray[np.integer[Any]]
) -> float:
    """SSIMULACRA2 score of `distorted` against `reference`.

    100 means identical; about 90 is visually lossless, 70 high, 50 medium quality; scores can go
    negative. Pixels are sRGB. With an alpha channel, both images are blended onto dark and light
    grey (ALPHA_BACKGROUNDS) in sRGB-encoded values, and the worse score is returned.

    Args:
        reference: the original, (height, width, 3 or 4), uint8 or uint16.
        distorted: the image to judge, same shape as `reference` (dtype may differ).

    Returns:
        The score.

    Raises:
        ValueError: not an RGB/RGBA uint8/uint16 array, shapes differ, or smaller than 8x8
            (which the reference tool refuses too).
    """
    ref = _as_unit_float(reference, "reference")
    dist = _as_unit_float(distorted, "distorted")
    if reference.shape != distorted.shape:
        raise ValueError(
            f"Expected distorted to have the reference's shape {reference.shape} "
            f"but received {distorted.shape}"
        )
    height, width = reference.shape[:2]
    if height < MIN_SIZE or width < MIN_SIZE:
        raise ValueError(
            f"Expected an image of at least {MIN_SIZE}x{MIN_SIZE} pixels "
            f"but received {width}x{height}"
        )
    if ref.shape[0] == 3:
        return _msssim_score(_srgb_to_linear(ref), _srgb_to_linear(dist))
    scores = []
    for background in ALPHA_BACKGROUNDS:
        bg = np.float32(background)
        ref_rgb = ref[3] * ref[:3] + (np.float32(1.0) - ref[3]) * bg
        dist_rgb = dist[3] * dist[:3] + (np.float32(1.0) - dist[3]) * bg
        scores.append(_msssim_score(_srgb_to_linear(ref_rgb), _srgb_to_linear(dist_rgb)))
    return min(scores)
