"""Rate-quality curves: bytes at equal mean score, and the Bjøntegaard delta rate (BD-rate).

A curve is one encoder's (mean SSIMULACRA2, total bytes) points over a quality sweep. Both
figures interpolate log(bytes) linearly in score, never extrapolate, and integrate exactly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["CurvePoint", "bd_rate", "bytes_at_score", "efficient_points"]


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One quality of a sweep: the mean score of its outputs and their total bytes."""

    score: float
    bytes: int
    quality: int = 0


def efficient_points(points: Iterable[CurvePoint]) -> list[CurvePoint]:
    """The points no other point beats (at least its score for at most its bytes), by score.

    What a user would pick from the sweep: a quality that costs more bytes for a lower score
    than another is never chosen. The result has strictly increasing score and bytes.
    """
    ordered = sorted(
        (p for p in points if p.bytes > 0 and math.isfinite(p.score)),
        key=lambda p: (-p.score, p.bytes),
    )
    kept: list[CurvePoint] = []
    for point in ordered:
        if not kept or point.bytes < kept[-1].bytes:
            kept.append(point)
    kept.reverse()
    return kept


def _log_bytes_at(curve: Sequence[CurvePoint], score: float) -> float | None:
    if not curve or score < curve[0].score or score > curve[-1].score:
        return None
    for low, high in itertools.pairwise(curve):
        if low.score <= score <= high.score:
            t = (score - low.score) / (high.score - low.score)
            return (1 - t) * math.log(low.bytes) + t * math.log(high.bytes)
    return math.log(curve[0].bytes)  # a single point, exactly at its score


def bytes_at_score(points: Iterable[CurvePoint], score: float) -> float | None:
    """Total bytes the encoder needs for mean score `score` (None outside its swept range)."""
    value = _log_bytes_at(efficient_points(points), score)
    return None if value is None else math.exp(value)


def _integral(
    curve: Sequence[CurvePoint], low: float, high: float, knots: Sequence[float]
) -> float:
    xs = sorted({low, high, *(k for k in knots if low < k < high)})
    total = 0.0
    for a, b in itertools.pairwise(xs):
        ya, yb = _log_bytes_at(curve, a), _log_bytes_at(curve, b)
        assert ya is not None and yb is not None
        total += (ya + yb) / 2 * (b - a)  # exact: log-bytes is linear between knots
    return total


def bd_rate(test: Iterable[CurvePoint], reference: Iterable[CurvePoint]) -> float | None:
    """Mean relative bytes of `test` against `reference` at equal score, over their overlap.

    exp(mean over the overlapping score range of (log bytes_test - log bytes_reference)) - 1:
    -0.10 means the test needs 10% fewer bytes. None when the ranges overlap in less than a
    point (at least two points per curve are needed).
    """
    a, b = efficient_points(test), efficient_points(reference)
    if len(a) < 2 or len(b) < 2:
        return None
    low = max(a[0].score, b[0].score)
    high = min(a[-1].score, b[-1].score)
    if high <= low:
        return None
    knots = [p.score for p in (*a, *b)]
    mean_difference = (_integral(a, low, high, knots) - _integral(b, low, high, knots)) / (
        high - low
    )
    return math.exp(mean_difference) - 1
