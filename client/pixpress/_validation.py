"""Argument checks done before any call, raising ValueError in sharp's one message shape."""

from __future__ import annotations

__all__ = ["check_bool", "check_int_between", "check_quality"]

MIN_QUALITY = 1
MAX_QUALITY = 100


def check_int_between(name: str, value: object, low: int, high: int) -> int:
    """Return `value` if it is an int in low..high, else raise ValueError
    ("Expected integer between 1 and 100 for quality but received 150")."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"Expected integer between {low} and {high} for {name} but received {value!r}"
        )
    return value


def check_bool(name: str, value: object) -> bool:
    """Return `value` if it is a bool, else raise ValueError."""
    if not isinstance(value, bool):
        raise ValueError(f"Expected boolean for {name} but received {value!r}")
    return value


def check_quality(quality: object) -> int:
    """Quality 1 (smallest) .. 100 (lossless only)."""
    return check_int_between("quality", quality, MIN_QUALITY, MAX_QUALITY)
