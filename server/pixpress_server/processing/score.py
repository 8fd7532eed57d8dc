"""SSIMULACRA2 in the worker (numpy): a candidate's score against the decoded source.

The same metric as benchmarks/quality/ssimulacra2.py (libjxl's tools/ssimulacra2.cc), laid
out for a search: everything that depends only on the source is computed once per scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

MIN_SIZE: Final = 8
# The reference blends images with alpha onto these sRGB greys and keeps the worse score.
ALPHA_BACKGROUNDS: Final = (0.1, 0.9)

# Row sampling, per scale: score every k-th band of BAND_ROWS rows (1: every row). Scales 0
# and 1 are 94% of the work and their per-pixel maps are local (a 9-tap blur), so a regular
# subset of their rows estimates the means closely; coarser scales, few rows with heavy
# weights, are scored whole. Measured against the reference on 20 photos x JPEG q 30/60/85
# (benchmarks/search_targets.py): EXACT max |diff| 0.004, 0.49 CPU-s/MP per candidate;
# (4, 2) max 0.32, mean 0.10, 0.21 s/MP; SAMPLED (8, 4) max 0.66, mean 0.18, 0.11 s/MP;
# sampling scale 2 as well cost up to 1.9 points. Skipping the error maps whose weights are
# all zero and np.pad then took 31% off a candidate's CPU and 24% off the source's (3 Kodak
# photos x q 40/70/90, interleaved medians), with bit-identical scores. Re-measured on 8 Kodak
# photos + Landscape_1 x JPEG q 30/50/70/90: SAMPLED max |diff| 0.62, mean 0.17, 0.069 CPU-s/MP
# per candidate + 0.047 once for the source (reference: 1.0 s/MP), on a loaded machine.
BAND_ROWS: Final = 16
EXACT: Final = (1, 1, 1, 1, 1, 1)
SAMPLED: Final = (8, 4, 1, 1, 1, 1)
SAMPLED_MARGIN: Final = 0.5
"""Points a search adds to its target so that SAMPLED scores' error rarely falls below it."""
_NUM_SCALES: Final = 6
_C2: Final = np.float32(0.0009)
_SIGMA: Final = 1.5
_OPSIN_BIAS: Final = 0.0037930732552754493
_OPSIN: Final = np.array(
    [
        [0.30, 0.622, 0.078],
        [0.23, 0.692, 0.078],
        [0.24342268924547819, 0.20476744424496821, 1.0 - 0.24342268924547819 - 0.20476744424496821],
    ],
    dtype=np.float32,
)
_CBRT_BIAS: Final = np.float32(np.cbrt(_OPSIN_BIAS))

# Channel X, Y, B; per scale; per norm (1, 4); per map (1 - SSIM, artifact, detail lost).
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


def _gaussian_taps(sigma: float) -> F32:
    """The symmetric FIR (2N-1 taps) that the reference's recursive Gaussian computes.

    Its three IIR sections have frequencies k pi / 2N (k = 1, 3, 5), so their responses cancel
    after 2N samples; benchmarks/quality/README.md derives this and tests it against the
    literal recursion.
    """
    radius = math.floor(3.2795 * sigma + 0.2546 + 0.5)
    omega = np.array([1.0, 3.0, 5.0]) * math.pi / (2.0 * radius)
    p = np.array([1.0, -1.0, 1.0]) / np.tan(0.5 * omega)
    r = np.array([1.0, -1.0, 1.0]) * p * p / np.sin(omega)
    rho = np.exp(-0.5 * sigma * sigma * omega * omega) / radius
    d_13 = p[0] * r[1] - r[0] * p[1]
    zeta_15 = (p[1] * r[2] - r[1] * p[2]) / d_13
    zeta_35 = (p[2] * r[0] - r[2] * p[0]) / d_13
    matrix = np.array([p, r, [zeta_15, zeta_35, 1.0]])
    gamma = np.array(
        [1.0, radius * radius - sigma * sigma, zeta_15 * rho[0] + zeta_35 * rho[1] + rho[2]]
    )
    beta = np.linalg.solve(matrix, gamma)
    n2 = -beta * np.cos(omega * (radius + 1.0))
    offsets = np.arange(-(radius - 1), radius)
    lag_plus_one = (radius - offsets)[:, None] * omega[None, :]
    taps: F32 = (n2 * np.sin(lag_plus_one) / np.sin(omega)).sum(axis=1).astype(np.float32)
    return taps


_TAPS: Final = _gaussian_taps(_SIGMA)
_REACH: Final = (len(_TAPS) - 1) // 2


def _fir(planes: F32, axis: int) -> F32:
    """Symmetric FIR along `axis`, zero outside the image (as the reference).

    Each pair of taps is summed before it is weighted: float32 rounding then stays as small
    as the reference's (weighting each side alone moved a score near 88 by 0.011). The zero
    border is an allocation and one copy (np.pad took a third of the blur's time).
    """
    size = planes.shape[axis]
    shape = list(planes.shape)
    shape[axis] = size + 2 * _REACH
    padded = np.zeros(shape, dtype=planes.dtype)

    def shifted(array: F32, offset: int) -> F32:
        index: list[slice] = [slice(None)] * planes.ndim
        index[axis] = slice(_REACH + offset, _REACH + offset + size)
        view: F32 = array[tuple(index)]
        return view

    shifted(padded, 0)[...] = planes
    out: F32 = planes * _TAPS[_REACH]
    both = np.empty_like(planes)
    for offset in range(1, _REACH + 1):
        np.add(shifted(padded, -offset), shifted(padded, offset), out=both)
        both *= _TAPS[_REACH + offset]
        out += both
    return out


def _blur(planes: F32) -> F32:
    return _fir(_fir(planes, -1), -2)


def _srgb_to_linear(encoded: F32) -> F32:
    low = encoded / np.float32(12.92)
    high = ((encoded + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4)
    result: F32 = np.where(encoded <= np.float32(0.04045), low, high).astype(np.float32)
    return result


_LINEAR_LUT: Final = _srgb_to_linear(np.arange(256, dtype=np.float32) / np.float32(255.0))


def _xyb(linear: F32) -> F32:
    """Linear RGB planes (3, ...) -> SSIMULACRA2's positive XYB (B replaced by B - Y)."""
    mixed = np.einsum("ij,j...->i...", _OPSIN, linear)
    mixed += np.float32(_OPSIN_BIAS)
    np.maximum(mixed, 0.0, out=mixed)
    mixed = np.cbrt(mixed)
    mixed -= _CBRT_BIAS
    out: F32 = np.empty_like(mixed)
    np.subtract(mixed[0], mixed[1], out=out[0])
    out[0] *= np.float32(0.5 * 14.0)
    out[0] += np.float32(0.42)
    np.add(mixed[0], mixed[1], out=out[1])
    out[1] *= np.float32(0.5)
    np.subtract(mixed[2], out[1], out=out[2])
    out[2] += np.float32(0.55)
    out[1] += np.float32(0.01)
    return out


def _downsample(linear: F32) -> F32:
    """2x2 box average in linear light; an odd last row/column is repeated."""
    _, height, width = linear.shape
    if height % 2 or width % 2:
        linear = np.pad(linear, ((0, 0), (0, height % 2), (0, width % 2)), mode="edge")
    total = linear[:, 0::2, 0::2] + linear[:, 0::2, 1::2]
    total += linear[:, 1::2, 0::2]
    total += linear[:, 1::2, 1::2]
    total *= np.float32(0.25)
    return total


def _norms(error: F32) -> tuple[float, float]:
    """1-norm (mean) and 4-norm of a non-negative error map, summed in float64."""
    squared = error * error
    squared *= squared
    mean = float(error.mean(dtype=np.float64))
    return mean, math.sqrt(math.sqrt(float(squared.mean(dtype=np.float64))))


@dataclass(frozen=True, slots=True)
class _Rows:
    """The rows of one scale that are scored: bands of rows with `halo` rows of real
    neighbours each side (so the 9-tap vertical blur is exact inside), or all rows."""

    index: npt.NDArray[np.intp] | None  # (bands, band + 2 halo) row numbers; None: all rows
    outside: npt.NDArray[np.bool_] | None  # rows beyond the image (zero, as the reference)
    halo: int

    @staticmethod
    def of(height: int, keep_every: int) -> _Rows:
        if keep_every <= 1 or height < 2 * keep_every * BAND_ROWS:
            return _Rows(None, None, 0)
        period = keep_every * BAND_ROWS
        starts = np.arange((period - BAND_ROWS) // 2, height - BAND_ROWS + 1, period)
        rows = starts[:, None] + np.arange(-_REACH, BAND_ROWS + _REACH)[None, :]
        outside = (rows < 0) | (rows >= height)
        return _Rows(np.clip(rows, 0, height - 1), outside, _REACH)

    def xyb(self, linear: F32) -> F32:
        """XYB of the scored rows: (3, bands, rows, width), one band of all rows if unsampled."""
        if self.index is None:
            return _xyb(linear[:, None])
        xyb = _xyb(linear[:, self.index])
        assert self.outside is not None
        xyb[:, self.outside] = 0.0
        return xyb

    def inner(self, planes: F32) -> F32:
        """Drop the halo rows: what is left is exact."""
        if not self.halo:
            return planes
        inner: F32 = planes[..., self.halo : planes.shape[-2] - self.halo, :]
        return inner


class _SourceScale:
    """One scale of the source: XYB planes, their blur and blurred variance (fixed)."""

    __slots__ = ("mu", "rows", "variance", "xyb")

    def __init__(self, linear: F32, rows: _Rows, ssim_used: npt.NDArray[np.bool_]) -> None:
        self.rows = rows
        self.xyb = rows.xyb(linear)
        # The variance only feeds the SSIM map: left at 0 where that map has no weight.
        mu, variance = [], []
        for plane, used in zip(self.xyb, ssim_used, strict=True):
            if used:
                squared, blurred = rows.inner(_blur(np.stack([plane * plane, plane])))
                mu.append(blurred)
                variance.append(squared - blurred * blurred)
            else:
                mu.append(rows.inner(_blur(plane[None]))[0])
                variance.append(np.zeros_like(mu[-1]))
        self.mu, self.variance = np.stack(mu), np.stack(variance)


def _used_maps(scales: int) -> npt.NDArray[np.bool_]:
    """(scale, channel, map): whether any norm of that error map has a non-zero weight.

    The weights are consumed in order over the scales computed (as the reference), so which
    ones a map meets depends on how many scales the image has.
    """
    weights = _WEIGHTS[: 3 * scales * 6].reshape(3, scales, 2, 3)
    used: npt.NDArray[np.bool_] = (weights != 0).any(axis=2).transpose(1, 0, 2)
    return used


def _scale_features(
    source: _SourceScale, linear: F32, used: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """(3 channels, 2 norms, 3 maps) of one scale, one channel at a time to bound memory.

    Maps whose weights are all zero are left at 0: at the finest scale X and B need only the
    artifact map, i.e. one blurred plane instead of three (4 of its 9 blurs skipped).
    """
    rows = source.rows
    xyb = rows.xyb(linear)
    features = np.zeros((3, 2, 3))
    for channel in range(3):
        if not used[channel].any():
            continue
        mu1, var1 = source.mu[channel], source.variance[channel]
        x1, x2 = source.xyb[channel], xyb[channel]
        maps: list[tuple[int, F32]] = []
        if used[channel, 0]:
            sigma22, sigma12, mu2 = rows.inner(_blur(np.stack([x2 * x2, x1 * x2, x2])))
            mu_diff = mu1 - mu2
            num_m = np.float32(1.0) - mu_diff * mu_diff
            num_s = np.float32(2.0) * (sigma12 - mu1 * mu2) + _C2
            denom_s = var1 + (sigma22 - mu2 * mu2) + _C2
            ssim_error = np.float32(1.0) - num_m * num_s / denom_s
            np.maximum(ssim_error, 0.0, out=ssim_error)
            maps.append((0, ssim_error))
        else:
            mu2 = rows.inner(_blur(x2[None]))[0]
        if used[channel, 1] or used[channel, 2]:
            x1, x2 = rows.inner(x1), rows.inner(x2)
            ratio = (np.float32(1.0) + np.abs(x2 - mu2)) / (np.float32(1.0) + np.abs(x1 - mu1))
            ratio -= np.float32(1.0)
            if used[channel, 1]:
                maps.append((1, np.maximum(ratio, 0.0)))
            if used[channel, 2]:
                maps.append((2, np.maximum(-ratio, 0.0)))
        for index, error in maps:
            features[channel, 0, index], features[channel, 1, index] = _norms(error)
    return features


def _final_score(per_scale: list[npt.NDArray[np.float64]]) -> float:
    # Channel-major over the scales computed; small images consume the weights in order,
    # like the reference.
    features = np.stack(per_scale, axis=1).reshape(-1)
    total = float(np.dot(_WEIGHTS[: features.size], np.abs(features))) * 0.9562382616834844
    total = (
        2.326765642916932 * total
        - 0.020884521182843837 * total * total
        + 6.248496625763138e-05 * total * total * total
    )
    return 100.0 - 10.0 * float(total**0.6276336467831387) if total > 0.0 else 100.0


def _linear_planes(pixels: U8, background: float | None) -> F32:
    """(h, w, 3|4) sRGB uint8 -> linear (3, h, w); alpha is blended onto `background` first."""
    if background is None:
        # Planar bytes first, then the table: the float copy is made once, already planar.
        planar = np.ascontiguousarray(np.moveaxis(pixels[:, :, :3], 2, 0))
        linear: F32 = _LINEAR_LUT[planar]
        return linear
    unit = np.moveaxis(pixels, 2, 0).astype(np.float32) * np.float32(1.0 / 255.0)
    alpha = unit[3]
    rgb = unit[:3] * alpha + (np.float32(1.0) - alpha) * np.float32(background)
    return _srgb_to_linear(rgb)


def _scales(linear: F32) -> list[F32]:
    scales = []
    for scale in range(_NUM_SCALES):
        # The 8-pixel test looks at the image before this scale's halving, as the reference.
        if min(linear.shape[1:]) < MIN_SIZE:
            break
        if scale:
            linear = _downsample(linear)
        scales.append(linear)
    return scales


class Scorer:
    """SSIMULACRA2 of candidates against one source, the source's work done once.

    Pixels are (height, width, 3 or 4) uint8 sRGB. With alpha, both images are blended onto
    dark and light grey and the worse score counts (the reference tool's rule); a candidate
    whose alpha differs from the source's presence of alpha is given the source's layout.
    """

    def __init__(self, source: U8, sampling: Sequence[int] = SAMPLED) -> None:
        height, width, bands = source.shape
        if height < MIN_SIZE or width < MIN_SIZE:
            raise ValueError(
                f"Expected at least {MIN_SIZE}x{MIN_SIZE} pixels, got {width}x{height}"
            )
        self.shape = (height, width)
        self.alpha = bands == 4
        self._backgrounds: tuple[float | None, ...] = ALPHA_BACKGROUNDS if self.alpha else (None,)
        self._sources = []
        for background in self._backgrounds:
            scales = _scales(_linear_planes(source, background))
            keep = [*sampling, *[1] * len(scales)]
            used = _used_maps(len(scales))
            self._sources.append(
                [
                    _SourceScale(linear, _Rows.of(linear.shape[1], every), used[scale, :, 0])
                    for scale, (linear, every) in enumerate(zip(scales, keep, strict=False))
                ]
            )

    def score(self, candidate: U8) -> float:
        """The candidate's score: 100 identical, ~90 visually lossless, 70 high quality."""
        if candidate.shape[:2] != self.shape:
            raise ValueError(f"Expected {self.shape} pixels, got {candidate.shape[:2]}")
        candidate = self._layout(candidate)
        scores = []
        for background, sources in zip(self._backgrounds, self._sources, strict=True):
            linear_scales = _scales(_linear_planes(candidate, background))
            used = _used_maps(len(linear_scales))
            per_scale = [
                _scale_features(source, linear, used[scale])
                for scale, (source, linear) in enumerate(zip(sources, linear_scales, strict=True))
            ]
            scores.append(_final_score(per_scale))
        return min(scores)

    def _layout(self, candidate: U8) -> U8:
        if self.alpha and candidate.shape[2] == 3:
            opaque = np.full((*self.shape, 1), 255, dtype=np.uint8)
            return np.concatenate([candidate, opaque], axis=2)
        if not self.alpha and candidate.shape[2] == 4:
            return candidate[:, :, :3]
        return candidate
