"""BD-rate and bytes at equal score (benchmarks/bdrate.py, ratequality.equal_score_table)."""

from __future__ import annotations

import math

import pytest

from benchmarks.bdrate import CurvePoint, bd_rate, bytes_at_score, efficient_points
from benchmarks.ratequality import SweepPoint, equal_score_table


def _curve(*pairs: tuple[float, int]) -> list[CurvePoint]:
    return [CurvePoint(score, size) for score, size in pairs]


def test_bytes_at_score_interpolates_log_bytes_linearly_in_score() -> None:
    curve = _curve((50, 1000), (70, 4000))
    assert bytes_at_score(curve, 60) == pytest.approx(2000)
    assert bytes_at_score(curve, 50) == pytest.approx(1000)
    assert bytes_at_score(curve, 70) == pytest.approx(4000)
    assert bytes_at_score(curve, 65) == pytest.approx(1000 * 4**0.75)


def test_bytes_at_score_never_extrapolates() -> None:
    curve = _curve((50, 1000), (70, 4000))
    assert bytes_at_score(curve, 49.9) is None
    assert bytes_at_score(curve, 70.1) is None
    assert bytes_at_score([], 60) is None


def test_efficient_points_drop_a_quality_beaten_on_both_axes() -> None:
    # q 70 costs more than q 75 for a lower score: nobody would pick it.
    points = [CurvePoint(60, 2000, 70), CurvePoint(65, 1800, 75), CurvePoint(80, 5000, 90)]
    kept = efficient_points(points)
    assert [p.quality for p in kept] == [75, 90]
    assert bytes_at_score(points, 60) is None
    assert bytes_at_score(points, 65) == pytest.approx(1800)


def test_efficient_points_keep_the_cheapest_of_equal_scores_and_skip_empty_outputs() -> None:
    points = [CurvePoint(70, 3000, 1), CurvePoint(70, 2500, 2), CurvePoint(90, 0, 3)]
    assert efficient_points(points) == [CurvePoint(70, 2500, 2)]


def test_bd_rate_of_a_constant_factor_is_that_factor() -> None:
    reference = _curve((50, 1000), (60, 1500), (80, 4000), (90, 9000))
    test = [CurvePoint(p.score, round(p.bytes * 0.8)) for p in reference]
    assert bd_rate(test, reference) == pytest.approx(-0.2, abs=1e-3)
    assert bd_rate(reference, test) == pytest.approx(0.25, abs=1e-3)


def test_bd_rate_averages_the_log_difference_over_the_overlap() -> None:
    # log(test/reference) falls linearly from 0 to -log 4: its mean is -log 2, so -50%.
    reference = _curve((50, 1000), (70, 16_000))
    test = _curve((50, 1000), (70, 4000), (90, 8000))
    assert bd_rate(test, reference) == pytest.approx(-0.5, abs=1e-3)


def test_bd_rate_uses_only_the_overlapping_scores() -> None:
    reference = _curve((40, 500), (60, 1000), (80, 2000))
    test = _curve((60, 500), (80, 1000), (95, 8000))
    assert bd_rate(test, reference) == pytest.approx(-0.5, abs=1e-9)


def test_bd_rate_is_none_without_an_overlap_or_with_one_point() -> None:
    assert bd_rate(_curve((40, 500), (50, 900)), _curve((60, 1000), (80, 2000))) is None
    assert bd_rate(_curve((60, 500)), _curve((60, 1000), (80, 2000))) is None


def _point(encoder: str, quality: int, score: float | None, size: int) -> SweepPoint:
    return SweepPoint("jpeg", encoder, quality, 2, 10_000, size, score)


def test_equal_score_table_gives_bytes_at_each_score_and_the_bd_rates() -> None:
    points = [
        _point("pixpress", 50, 55.0, 1000),
        _point("pixpress", 90, 95.0, 4000),
        _point("sharp", 50, 55.0, 2000),
        _point("sharp", 90, 95.0, 8000),
        _point("thumbor", 90, None, 9000),
    ]
    [row] = equal_score_table(points, [("pixpress", "sharp"), ("pixpress", "thumbor")], (60, 90))
    assert row.format == "jpeg"
    assert row.bytes_at["pixpress"][60] == pytest.approx(1000 * 4 ** (5 / 40))
    assert row.bytes_at["sharp"][90] == pytest.approx(2000 * 4 ** (35 / 40))
    assert row.bytes_at["thumbor"] == {60: None, 90: None}
    assert row.bd_rates["pixpress vs sharp"] == pytest.approx(-0.5)
    assert row.bd_rates["pixpress vs thumbor"] is None
    assert math.isclose(row.input_bytes, 10_000)
