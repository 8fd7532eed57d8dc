"""Compress options validated once, whichever edge they came in by: errors name the field, the
range and the value received."""

from __future__ import annotations

from pixpress_server.errors import InvalidInput
from pixpress_server.processing.model import (
    DEFAULT_EFFORT,
    DEFAULT_QUALITY,
    MAX_EFFORT,
    MAX_QUALITY,
    MAX_TARGET_SCORE,
    MIN_EFFORT,
    MIN_QUALITY,
    MIN_TARGET_SCORE,
    CompressOptions,
)

# Two ways to ask for the same thing. target_score with max_bytes is allowed: the budget is
# the harder limit (the search's rule), and the result reports both the score and budget_met.
BOTH_QUALITY_AND_SCORE = "Send quality or target_score, not both"


def _int_between(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidInput(
            f"Expected integer between {low} and {high} for {name} but received {value}"
        )
    return value


def compress_options(
    quality: int | None = None,
    keep_metadata: bool = False,
    effort: int | None = None,
    target_score: float | None = None,
    max_bytes: int | None = None,
) -> CompressOptions:
    """The options, or INVALID_ARGUMENT; None means not sent (the default applies)."""
    if quality is not None:
        _int_between("quality", quality, MIN_QUALITY, MAX_QUALITY)
    if effort is not None:
        _int_between("effort", effort, MIN_EFFORT, MAX_EFFORT)
    if target_score is not None and not MIN_TARGET_SCORE <= target_score <= MAX_TARGET_SCORE:
        # NaN fails the comparison too
        raise InvalidInput(
            f"Expected number between {MIN_TARGET_SCORE:g} and {MAX_TARGET_SCORE:g} "
            f"for target_score but received {target_score:g}"
        )
    if max_bytes is not None and max_bytes < 1:
        raise InvalidInput(f"Expected integer at least 1 for max_bytes but received {max_bytes}")
    if target_score is not None and quality is not None:
        raise InvalidInput(BOTH_QUALITY_AND_SCORE)
    return CompressOptions(
        quality=DEFAULT_QUALITY if quality is None else quality,
        keep_metadata=keep_metadata,
        effort=DEFAULT_EFFORT if effort is None else effort,
        target_score=target_score,
        max_bytes=max_bytes,
    )
