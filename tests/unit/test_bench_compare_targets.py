"""Issue 8's targets from one comparison run's figures (benchmarks/compare_targets.py)."""

from __future__ import annotations

import pytest

from benchmarks.bigpng import BigPngRun
from benchmarks.compare_targets import (
    bd_rate_vs_sharp,
    big_png,
    cpu_vs_sharp,
    lowest_effort_vs_thumbor,
    service_vs_in_process,
    target_score,
)
from benchmarks.peer_cpu import CpuSample
from benchmarks.ratequality import EqualScore


def _sample(runner: str, image_format: str, cpu: list[float], client: float = 0.0) -> CpuSample:
    return CpuSample(runner, image_format, 2.0, cpu, [client] * len(cpu), [1.0] * len(cpu))


def test_cpu_per_mp_is_the_median_pass_with_its_client_cpu() -> None:
    sample = _sample("service", "jpeg", [0.2, 0.9, 0.3], client=0.1)
    assert sample.cpu_per_mp == pytest.approx(0.2)
    assert sample.work_cpu_per_mp == pytest.approx(0.15)


def test_cpu_vs_sharp_is_met_at_or_below_one_and_unmeasured_without_sharp() -> None:
    samples = [
        _sample("service", "jpeg", [0.2]),
        _sample("sharp", "jpeg", [0.25]),
        _sample("service", "png", [3.0]),
        _sample("sharp", "png", [2.0]),
        _sample("service", "webp", [0.2]),
    ]
    by_name = {t.name: t for t in cpu_vs_sharp(samples)}
    assert by_name["service CPU-s/MP vs sharp, JPEG"].met is True
    assert by_name["service CPU-s/MP vs sharp, PNG"].met is False
    assert by_name["service CPU-s/MP vs sharp, PNG"].measured.startswith("1.50x")
    assert by_name["service CPU-s/MP vs sharp, WEBP"].met is None


def test_service_vs_in_process_weights_formats_by_megapixels() -> None:
    samples = [
        _sample("service", "jpeg", [0.22]),
        _sample("in-process", "jpeg", [0.2]),
        _sample("service", "png", [2.0]),
        _sample("in-process", "png", [2.0]),
    ]
    target = service_vs_in_process(samples)
    assert target.measured.startswith("1.009x")
    assert target.met is True


def test_lowest_effort_falls_back_to_in_process_and_reads_the_bd_rate() -> None:
    samples = [_sample("in-process effort 1", "jpeg", [0.05]), _sample("thumbor", "jpeg", [0.05])]
    table = [EqualScore("jpeg", 1000, {}, {"pixpress effort 1 vs thumbor": -0.04})]
    cpu, rate = lowest_effort_vs_thumbor(samples, table)
    assert cpu.met is True
    assert "in-process" in cpu.measured
    assert rate.measured == "-4.0%"
    assert rate.met is False


def test_bd_rate_vs_sharp_per_format() -> None:
    table = [EqualScore("jpeg", 1000, {}, {"pixpress vs sharp": -0.12})]
    jpeg, png, *_ = bd_rate_vs_sharp(table)
    assert (jpeg.measured, jpeg.met) == ("-12.0%", True)
    assert png.met is None


def test_big_png_is_met_within_thirty_seconds_and_missed_on_failure() -> None:
    assert big_png(BigPngRun(8000, 100, 50, 29.0, 30.0)).met is True
    assert big_png(BigPngRun(8000, 100, 50, 31.0, 30.0)).met is False
    assert big_png(BigPngRun(8000, 100, 0, 1.0, 1.0, error="boom")).met is False
    assert big_png(None).met is None


def _summary(reached: float, saved: float, cpu: float) -> dict[str, object]:
    return {
        "format": "jpeg",
        "target": 70.0,
        "images": 4,
        "reached_share": reached,
        "fixed_quality": 81,
        "bytes_saved_vs_fixed": saved,
        "cpu_ratio_median": cpu,
        "encodes_mean": 2.5,
    }


def test_target_score_needs_reach_savings_and_cpu_together() -> None:
    met, few_reach, small_saving, costly = target_score(
        [
            _summary(1.0, 0.31, 3.9),
            _summary(0.9, 0.31, 3.9),
            _summary(1.0, 0.2, 3.9),
            _summary(1.0, 0.31, 4.1),
        ]
    )
    assert met.met is True
    assert met.name == "target_score=70, JPEG (4 images)"
    assert "100% reach S; search bytes -31.0% vs fixed q 81" in met.measured
    assert (few_reach.met, small_saving.met, costly.met) == (False, False, False)
