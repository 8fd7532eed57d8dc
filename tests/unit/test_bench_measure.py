"""Benchmark measurement helpers: size classes, percentiles, CPU deltas, RSS sampling."""

from __future__ import annotations

import math
import os

import pytest

from benchmarks.measure import (
    RssSampler,
    cpu_delta,
    percentile,
    size_class,
    tree_pids,
)


@pytest.mark.parametrize(
    ("size", "label"),
    [
        (0, "<=50KB"),
        (50_000, "<=50KB"),
        (50_001, "<=1MB"),
        (1_000_000, "<=1MB"),
        (1_000_001, ">1MB"),
    ],
)
def test_size_class_bounds_are_inclusive(size, label):
    assert size_class(size) == label


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 50, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 95, 3.85),
    ],
)
def test_percentile_interpolates_linearly(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan():
    assert math.isnan(percentile([], 50))


def test_cpu_delta_counts_new_processes_in_full():
    assert cpu_delta({1: 1.0, 2: 5.0}, {1: 1.5, 2: 6.0, 3: 2.0}) == pytest.approx(3.5)


def test_rss_sampler_sees_this_process():
    with RssSampler(root=os.getpid(), hz=100) as sampler:
        pass
    assert sampler.peaks.samples >= 1
    assert sampler.peaks.root > 0
    assert sampler.peaks.total >= sampler.peaks.root
    assert os.getpid() in tree_pids(os.getpid())
