"""The quality search on fake encoders: monotone tables of bytes and scores."""

from __future__ import annotations

import pytest
from pixpress_server.processing.memory import estimate_memory
from pixpress_server.processing.model import CompressOptions, ImageFormat, ImageHeader
from pixpress_server.processing.search import (
    MAX_TRIALS,
    SearchResult,
    Trial,
    first_guess,
    search_budget,
    search_target,
)


class FakeEncoder:
    """score = quality * slope + offset (capped at 100); bytes = 1000 * 1.04 ** quality."""

    def __init__(self, slope: float = 0.7, offset: float = 20.0, flat_from: int = 101) -> None:
        self.slope = slope
        self.offset = offset
        self.flat_from = flat_from
        self.calls: list[int] = []

    def score(self, quality: int) -> float:
        effective = min(quality, self.flat_from) if quality < 100 else 100
        return min(100.0, effective * self.slope + self.offset) if quality < 100 else 100.0

    def size(self, quality: int) -> int:
        return int(1000 * 1.04**quality)

    def __call__(self, quality: int) -> Trial:
        assert 1 <= quality <= 100
        self.calls.append(quality)
        return Trial(quality, self.size(quality), self.score(quality))


def cheapest_passing(fake: FakeEncoder, target: float, top: int = 100) -> int:
    return min(q for q in range(1, top + 1) if fake.score(q) >= target)


@pytest.mark.parametrize("target", [35.0, 50.0, 70.0, 80.0, 90.0])
@pytest.mark.parametrize("slope", [0.3, 0.7, 1.2])
def test_target_reached_cheaply_within_bounded_encodes(target: float, slope: float) -> None:
    fake = FakeEncoder(slope=slope)
    result = search_target(fake, target, 1, 100)
    assert result.met
    assert result.chosen.score is not None and result.chosen.score >= target
    assert len(fake.calls) <= MAX_TRIALS
    assert len(set(fake.calls)) == len(fake.calls)  # no quality encoded twice
    best = cheapest_passing(fake, target)
    # Either the cheapest passing quality, or one close enough to the target to stop early.
    assert result.chosen.quality == best or result.chosen.score - target <= 1.5 + slope


def test_early_exit_on_a_first_guess_just_above_the_target() -> None:
    fake = FakeEncoder(slope=1.0, offset=0.0)
    result = search_target(fake, 70.5, 1, 100, start=71)
    assert fake.calls == [71]
    assert result.met and result.chosen.quality == 71


def test_unreachable_target_returns_the_best_and_says_so() -> None:
    fake = FakeEncoder(slope=0.1, offset=10.0)  # 19.9 at q 99; only q 100 would be 100
    result = search_target(fake, 90.0, 1, 99)
    assert not result.met
    assert result.chosen.quality == 99  # the top was tried
    assert result.chosen.score is not None and result.chosen.score < 90.0
    assert len(fake.calls) <= MAX_TRIALS


def test_plateau_jumps_to_the_top() -> None:
    # A palette capped at 256 colours: the score stops rising at q 50; only q 100 passes.
    fake = FakeEncoder(slope=0.5, offset=30.0, flat_from=50)
    result = search_target(fake, 70.0, 1, 100)
    assert result.met and result.chosen.quality == 100
    assert len(fake.calls) <= 3


def test_a_jpeg_whose_own_quality_cannot_reach_the_target_takes_two_encodes() -> None:
    # The source's quality (73) is the top: there the encoder keeps the pixels (100); every
    # re-encode below scores under the target.
    def encode(quality: int) -> Trial:
        calls.append(quality)
        return Trial(quality, 1000 + quality, 100.0 if quality == 73 else 40 + quality / 3)

    calls: list[int] = []
    result = search_target(encode, 80.0, 1, 73, start=84)
    assert calls == [73, 72]
    assert result.met and result.chosen.quality == 73


def test_trials_are_bounded_by_max_trials() -> None:
    fake = FakeEncoder(slope=0.05, offset=60.0)
    result = search_target(fake, 64.0, 1, 100, max_trials=3, tolerance=0.0)
    assert len(fake.calls) == 3 == len(result.trials)


def test_target_needs_scores() -> None:
    with pytest.raises(ValueError, match="needs scores"):
        search_target(lambda q: Trial(q, 100), 70.0, 1, 100)


def budget_check(result: SearchResult, fake: FakeEncoder, budget: int, top: int) -> None:
    fitting = [q for q in range(1, top + 1) if fake.size(q) <= budget]
    assert result.met
    assert result.chosen.size <= budget
    # The best fitting quality, or one within 5% of the budget (the early exit).
    assert result.chosen.quality == max(fitting) or result.chosen.size >= 0.95 * budget / 1.04


@pytest.mark.parametrize("budget", [1100, 3000, 10_000, 20_000])
def test_budget_fits_with_the_best_quality(budget: int) -> None:
    fake = FakeEncoder()
    result = search_budget(fake, budget, 1, 80)
    budget_check(result, fake, budget, 80)
    assert len(fake.calls) <= MAX_TRIALS


def test_budget_met_at_the_top_takes_one_encode() -> None:
    fake = FakeEncoder()
    result = search_budget(fake, 10**9, 1, 80)
    assert fake.calls == [80] and result.met and result.chosen.quality == 80


def test_budget_too_small_returns_the_smallest_unmet() -> None:
    fake = FakeEncoder()
    result = search_budget(fake, 500, 1, 80)
    assert fake.calls == [80, 1]
    assert not result.met
    assert result.chosen.quality == 1 and result.chosen.size == fake.size(1)


def test_a_search_reserves_its_planes_in_the_memory_estimate() -> None:
    header = ImageHeader(ImageFormat.JPEG, 4000, 3000, 1, 3)
    plain = estimate_memory(header, 2_000_000, CompressOptions())
    budget = estimate_memory(header, 2_000_000, CompressOptions(max_bytes=500_000))
    scored = estimate_memory(header, 2_000_000, CompressOptions(target_score=80.0))
    assert plain == estimate_memory(header, 2_000_000)
    assert budget - plain == 12_000_000 * 3  # the decoded source, kept for every candidate
    assert scored - plain >= 12_000_000 * 50  # plus the metric's float32 planes


def test_first_guess_starts_where_the_corpus_median_reaches_the_score() -> None:
    assert first_guess(70.5) == 70
    assert first_guess(80.5) == 87
    guesses = [first_guess(target / 2) for target in range(60, 192)]
    assert guesses == sorted(guesses)  # never lower for a higher target


@pytest.mark.parametrize(("score_at_start", "second"), [(73.5, 66), (68.5, 74)])
def test_one_step_from_a_first_trial_off_target_lands_in_the_early_exit_band(
    score_at_start: float, second: int
) -> None:
    # 0.7 points per quality (the assumed slope): the step aims just above the target, so
    # the second trial passes and ends the search (aiming at the target itself failed at
    # 70.0 from 73.5 and needed a third trial).
    fake = FakeEncoder(slope=0.7, offset=score_at_start - 0.7 * 70)
    result = search_target(fake, 70.5, 1, 100, start=70)
    assert fake.calls == [70, second]
    assert result.met and result.chosen.quality == second
    assert result.chosen.score is not None and 70.5 <= result.chosen.score <= 70.5 + 1.0


def test_a_format_with_its_own_anchors_starts_there() -> None:
    webp = ((70.5, 76), (80.5, 87))
    assert first_guess(70.5, webp) == 76
    assert first_guess(80.5, webp) == 87
    assert first_guess(75.5, webp) > first_guess(75.5)
