"""Per-image quality search: the cheapest quality reaching a SSIMULACRA2 target, or the best
quality fitting a byte budget, in a bounded number of encodes (pure logic over a callback).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# At most this many encodes per search (a combined target + budget search shares them).
MAX_TRIALS = 6
# A passing candidate within this many points above the target ends the search early: one
# quality step moves the score by about 0.5-1.5 points at q 50-90. Replayed on the corpus's
# score curves (27 photos as JPEG and WebP q 95, S 70 and 80): 0.8 took 2.56 encodes per
# image for at most 0.3% over each image's cheapest passing quality, 1.0 2.44 for 0.5%, 1.2
# 2.39 for 0.7%.
SCORE_TOLERANCE = 1.0
# Scores at or above this are the original's pixels (a lossless path): see below.
IDENTICAL = 100.0
# A fitting candidate within this share of the budget ends a budget search early.
BUDGET_TOLERANCE = 0.05
# Score points per quality step assumed before two trials give a slope (JPEG/WebP, q 50-90).
_POINTS_PER_QUALITY = 0.7
# Where a predicted step aims: this far above the target, inside the early-exit band, so the
# next trial more often passes and ends the search.
_AIM = 0.2
# The first guess: the median quality at which the corpus's photos (JPEG q 95 sources) reach
# these sampled scores (the target plus score.SAMPLED_MARGIN); linear in between, and
# _POINTS_PER_QUALITY beyond. It took 2.4 encodes per image where the previous line (q 71 and
# 85, WebP +4) took 3.1. A format whose scale differs passes its own anchors.
Anchors = tuple[tuple[float, int], tuple[float, int]]
JPEG_LIKE: Anchors = ((70.5, 70), (80.5, 87))


@dataclass(frozen=True, slots=True)
class Trial:
    """One encode: its quality, its bytes and (for target searches) its score."""

    quality: int
    size: int
    score: float | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The chosen trial, whether it met what was asked, and every trial made."""

    chosen: Trial
    met: bool
    trials: tuple[Trial, ...]


Evaluate = Callable[[int], Trial]


class _Memo:
    """Trials by quality: a quality is never encoded twice, and the count is bounded."""

    def __init__(self, evaluate: Evaluate, max_trials: int) -> None:
        self._evaluate = evaluate
        self._max_trials = max_trials
        self.trials: dict[int, Trial] = {}

    @property
    def exhausted(self) -> bool:
        return len(self.trials) >= self._max_trials

    def __call__(self, quality: int) -> Trial:
        if quality not in self.trials:
            self.trials[quality] = self._evaluate(quality)
        return self.trials[quality]

    def ordered(self) -> tuple[Trial, ...]:
        return tuple(self.trials.values())


def _scored(trial: Trial) -> float:
    if trial.score is None:
        raise ValueError(f"a target search needs scores; quality {trial.quality} has none")
    return trial.score


def first_guess(target: float, anchors: Anchors = JPEG_LIKE) -> int:
    """Where the scale typically reaches `target`: by default q 70 for 70.5, q 87 for 80.5."""
    (low_score, low_quality), (high_score, high_quality) = anchors
    if target <= low_score:
        return round(low_quality + (target - low_score) / _POINTS_PER_QUALITY)
    if target >= high_score:
        return round(high_quality + (target - high_score) / _POINTS_PER_QUALITY)
    share = (target - low_score) / (high_score - low_score)
    return round(low_quality + share * (high_quality - low_quality))


def _interpolate(low: Trial, high: Trial, target: float) -> int:
    """Quality where the line through two (quality, score) trials reaches `target`."""
    low_score, high_score = _scored(low), _scored(high)
    if high_score <= low_score:
        return (low.quality + high.quality + 1) // 2
    share = (target - low_score) / (high_score - low_score)
    return math.ceil(low.quality + share * (high.quality - low.quality))


def search_target(
    evaluate: Evaluate,
    target: float,
    low: int,
    high: int,
    *,
    start: int | None = None,
    max_trials: int = MAX_TRIALS,
    tolerance: float = SCORE_TOLERANCE,
) -> SearchResult:
    """The smallest output whose score reaches `target`, qualities `low`..`high`.

    Scores are assumed to rise with quality (not strictly). The first trial is `start` (or
    first_guess), then a secant step on the score between the bracket's ends, kept inside the
    open bracket so every trial narrows it; the search stops when a passing trial is within
    `tolerance` of the target, when the bracket has closed (the next quality down fails), or
    after `max_trials` encodes. If nothing reaches the target, the best-scoring trial is
    returned with met=False (the search has then tried `high`).
    """
    memo = _Memo(evaluate, max_trials)
    passing: Trial | None = None  # lowest quality known to reach the target
    failing: Trial | None = None  # highest quality known to miss it
    sides: list[bool] = []
    plateau = False
    quality = min(high, max(low, start if start is not None else first_guess(target)))
    while True:
        trial = memo(quality)
        sides.append(_scored(trial) >= target)
        if sides[-1]:
            passing = trial if passing is None or trial.quality < passing.quality else passing
            # After a plateau, what lies between it and a passing top is the plateau or the
            # top's own output (a palette, then a lossless copy): nothing cheaper that passes.
            if _scored(trial) - target <= tolerance or plateau:
                break
        else:
            plateau = failing is not None and _scored(failing) == _scored(trial)
            failing = trial if failing is None or trial.quality > failing.quality else failing
        bottom = failing.quality + 1 if failing is not None else low
        top = passing.quality - 1 if passing is not None else high
        if bottom > top or memo.exhausted:
            break
        if plateau:
            # Same score at two qualities (e.g. a palette already at 256 colours): the
            # scale is flat here, so only the top of the bracket can still differ.
            quality = top
        elif passing is not None and failing is not None:
            # Secant, but bisect after two trials on the same side (a curved scale, such
            # as the jump to a lossless copy, would otherwise creep along one end).
            same_side = len(sides) >= 2 and sides[-1] == sides[-2]
            aim = target + _AIM
            quality = (bottom + top) // 2 if same_side else _interpolate(failing, passing, aim)
        elif passing is not None and _scored(passing) >= IDENTICAL and len(sides) == 1:
            # Only the lossless top passed (a JPEG asked for more than its own quality can
            # give): the best lossy quality decides at once whether any re-encode can pass.
            quality = top
        elif passing is not None:  # above the target: step down by the surplus
            surplus = (_scored(passing) - target - _AIM) / _POINTS_PER_QUALITY
            quality = passing.quality - max(1, math.floor(surplus)) * _growth(sides)
        else:
            assert failing is not None
            if memo.exhausted or failing.quality >= high:
                break
            shortfall = (target + _AIM - _scored(failing)) / _POINTS_PER_QUALITY
            # One step short of the remaining trials, go straight to the top.
            near_end = len(memo.trials) >= max_trials - 1
            step = math.ceil(shortfall) * _growth(sides)
            quality = high if near_end else failing.quality + step
        quality = min(top, max(bottom, quality))
    trials = memo.ordered()
    reached = [t for t in trials if _scored(t) >= target]
    if reached:
        return SearchResult(min(reached, key=lambda t: (t.size, t.quality)), True, trials)
    return SearchResult(max(trials, key=lambda t: (_scored(t), -t.size)), False, trials)


def _growth(sides: list[bool]) -> int:
    """1, 2, 4, ... for consecutive trials on one side: a bracket is found in few steps even
    where the scale is flatter than assumed."""
    run = 1
    while run < len(sides) and sides[-1 - run] == sides[-1]:
        run += 1
    return int(2 ** (run - 1))


def search_budget(
    evaluate: Evaluate,
    max_bytes: int,
    low: int,
    high: int,
    *,
    max_trials: int = MAX_TRIALS,
    tolerance: float = BUDGET_TOLERANCE,
) -> SearchResult:
    """The highest quality in `low`..`high` whose output fits `max_bytes`.

    `high` first (it often fits), then `low` (if even that is over, nothing fits: the smallest
    trial is returned with met=False), then secant steps on log(bytes) inside the bracket.
    Stops early when a fitting trial uses at least 1 - `tolerance` of the budget.
    """
    memo = _Memo(evaluate, max_trials)
    fits: Trial | None = None  # highest quality known to fit
    over: Trial | None = None  # lowest quality known not to
    quality = high
    while True:
        trial = memo(quality)
        if trial.size <= max_bytes:
            fits = trial if fits is None or trial.quality > fits.quality else fits
            if trial.size >= (1.0 - tolerance) * max_bytes:
                break
        else:
            over = trial if over is None or trial.quality < over.quality else over
        bottom = fits.quality + 1 if fits is not None else low
        top = over.quality - 1 if over is not None else high
        if bottom > top or memo.exhausted:
            break
        if fits is None:
            quality = low
        else:
            assert over is not None
            quality = _interpolate_size(fits, over, max_bytes)
        quality = min(top, max(bottom, quality))
    trials = memo.ordered()
    fitting = [t for t in trials if t.size <= max_bytes]
    if fitting:
        return SearchResult(max(fitting, key=lambda t: (t.quality, -t.size)), True, trials)
    return SearchResult(min(trials, key=lambda t: (t.size, -t.quality)), False, trials)


def _interpolate_size(fits: Trial, over: Trial, max_bytes: int) -> int:
    """Quality where log(bytes), linear between the two trials, reaches the budget."""
    small, large = math.log(max(fits.size, 1)), math.log(max(over.size, 1))
    if large <= small:
        return (fits.quality + over.quality) // 2
    share = (math.log(max_bytes) - small) / (large - small)
    return math.floor(fits.quality + share * (over.quality - fits.quality))
