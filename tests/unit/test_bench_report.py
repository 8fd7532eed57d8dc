"""Benchmark aggregation and targets: medians, latency tables, target verdicts, Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bigimages import BigImageRun, ConcurrentRun
from benchmarks.compression import ImageScore, summarise
from benchmarks.corpus import Corpus
from benchmarks.measure import RssPeaks
from benchmarks.modes import Latency, Mode, PassResult
from benchmarks.report import Results, as_json, markdown
from benchmarks.targets import evaluate
from benchmarks.tasks import TaskOutcome
from benchmarks.throughput import aggregate


def _pass(mode, workers, concurrency, wall, latency_ms=10.0):
    return PassResult(
        mode=mode,
        workers=workers,
        concurrency=concurrency,
        quality=75,
        wall_seconds=wall,
        cpu_seconds=wall * workers,
        client_cpu_seconds=0.1,
        images=10,
        megapixels=5.0,
        latencies=[Latency(f"i{n}", "<=50KB", latency_ms / 1000) for n in range(10)],
        outcomes={f"i{n}": TaskOutcome(100, False) for n in range(10)},
        peak_rss=RssPeaks(total=100 * 2**20),
    )


def test_aggregate_takes_the_median_wall_time():
    row = aggregate([_pass(Mode.SERVICE, 2, 4, wall) for wall in (3.0, 1.0, 2.0)])
    assert row.wall_seconds == 2.0
    assert row.images_per_second == pytest.approx(5.0)
    assert row.megapixels_per_second == pytest.approx(2.5)
    assert row.latency_ms["<=50KB"]["p50"] == pytest.approx(10.0)
    assert row.latency_ms["all"]["n"] == 30


def _score(encoder, fmt, size, ssim, stages=()):
    return ImageScore("a", fmt, encoder, 75, 1000, size, False, ssim, stages)


def test_summarise_sums_bytes_and_stage_savings():
    rows = summarise(
        [
            _score("pixpress", "png", 400, 90.0, (("encode", 500, 3.0), ("postpass", 400, 2.0))),
            _score("pixpress", "png", 600, 80.0, (("encode", 600, 4.0),)),
            _score("pillow", "png", 700, None),
        ]
    )
    ours = next(r for r in rows if r.encoder == "pixpress")
    assert (ours.input_bytes, ours.output_bytes, ours.ratio) == (2000, 1000, 0.5)
    assert (ours.mean_ssimulacra2, ours.min_ssimulacra2, ours.scored) == (85.0, 80.0, 2)
    assert ours.stage_bytes == {"encode": 1100, "postpass": 1000, "final": 1000}
    assert ours.stage_milliseconds == {"encode": 7.0, "postpass": 2.0}
    pillow = next(r for r in rows if r.encoder == "pillow")
    assert pillow.mean_ssimulacra2 is None


def _results(service_wall):
    throughput = [
        aggregate([_pass(Mode.IN_PROCESS, 2, 4, 1.0)]),
        aggregate([_pass(Mode.SERVICE, 2, 4, service_wall)]),
        aggregate([_pass(Mode.IN_PROCESS, 1, 4, 1.9)]),
        aggregate([_pass(Mode.IN_PROCESS, 2, 1, 1.0, latency_ms=10.0)]),
        aggregate([_pass(Mode.SERVICE, 2, 1, 1.0, latency_ms=13.0)]),
    ]
    compression = summarise(
        [_score("pixpress", "jpeg", 400, 80.0), _score("pillow", "jpeg", 500, 79.0)]
    )
    big = [
        BigImageRun(
            "50 MP PNG", "png", 1, 1, 50.0, 10, 5, False, 1.0, 1000, 50, 1150, 900, 60, 1300
        )
    ]
    concurrent = ConcurrentRun("50 MP PNG", 4, 2, 2000, 1000, 4, [], 9.0, 1900, 2100)
    targets = evaluate(throughput, compression, big, concurrent, 75)
    return Results(
        environment={
            "date": "2030-01-01T00:00:00+00:00",
            "cpu_model": "test CPU",
            "usable_cores": 2,
            "physical_cores": 2,
            "memory_bytes": 2**30,
            "load_average_at_start": [0.0, 0.0, 0.0],
            "platform": "test",
            "versions": {"pixpress": "0"},
        },
        settings={"command": "pixpress-bench", "throughput_quality": 75, "repeats": 1},
        corpus=Corpus(Path("corpus"), []),
        compression=compression,
        scores=[],
        throughput=throughput,
        big_images=big,
        concurrent=concurrent,
        targets=targets,
    )


def _verdicts(results):
    return {t.name: t.met for t in results.targets}


def test_targets_compare_ratios_of_one_run():
    verdicts = _verdicts(_results(service_wall=1.04))
    assert verdicts["service at concurrency 4 vs in-process, 2 workers"] is True
    assert verdicts["in-process: 2 workers vs 1 worker (concurrency 4, mixed images)"] is True
    assert verdicts["service: 2 workers vs 1 worker (concurrency 4, mixed images)"] is None
    assert verdicts["in-process: 2 workers vs 1 worker (concurrency 4, cpu-bound images)"] is None
    small = "small images (<= 50 KB) p50 latency, concurrency 1, 2 workers"
    assert verdicts[small] is False  # +3 ms
    assert verdicts["big image 50 MP PNG: worker peak RSS vs admission estimate"] is True
    assert verdicts["4 concurrent 50 MP PNG: workers' RSS vs --memory-budget"] is True
    assert verdicts["JPEG q75: pixpress vs Pillow"] is True
    assert verdicts["PNG q75: pixpress vs Pillow"] is None


def test_a_slow_service_misses_the_throughput_target():
    verdicts = _verdicts(_results(service_wall=1.2))
    assert verdicts["service at concurrency 4 vs in-process, 2 workers"] is False


def test_json_and_markdown_carry_every_section():
    results = _results(service_wall=1.0)
    data = as_json(results)
    assert {"meta", "corpus", "compression", "throughput", "big_images", "targets"} <= set(data)
    assert data["big_images"]["single"][0]["worker_ratio"] == pytest.approx(1.15)
    text = markdown(results)
    for heading in ("## Targets", "## Throughput", "## Big images", "test CPU"):
        assert heading in text
