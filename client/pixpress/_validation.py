"""Argument checks done before any call, raising InvalidOptionsError (a ValueError too) in
sharp's one message shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pixpress._errors import InvalidOptionsError

__all__ = [
    "check_body",
    "check_bool",
    "check_effort",
    "check_id",
    "check_int_between",
    "check_max_bytes",
    "check_number_between",
    "check_quality",
    "check_target_score",
    "check_timeout",
]

MIN_QUALITY = 1
MAX_QUALITY = 100
MIN_EFFORT = 1
MAX_EFFORT = 10
MIN_TARGET_SCORE = 30
MAX_TARGET_SCORE = 95
MAX_UINT64 = 2**64 - 1


def check_int_between(name: str, value: object, low: int, high: int) -> int:
    """Return `value` if it is an int in low..high, else raise InvalidOptionsError
    ("Expected integer between 1 and 100 for quality but received 150")."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidOptionsError(
            f"Expected integer between {low} and {high} for {name} but received {value!r}"
        )
    return value


def check_number_between(name: str, value: object, low: float, high: float) -> float:
    """Return `value` as a float if it is a number (int or float, not bool) in low..high, else
    raise InvalidOptionsError ("Expected number between 30 and 95 for target_score but
    received 99"); NaN is never in range."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= value <= high  # NaN fails too
    ):
        raise InvalidOptionsError(
            f"Expected number between {low:g} and {high:g} for {name} but received {value!r}"
        )
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return `value` if it is a bool, else raise InvalidOptionsError."""
    if not isinstance(value, bool):
        raise InvalidOptionsError(f"Expected boolean for {name} but received {value!r}")
    return value


def check_quality(quality: object) -> int:
    """Quality 1 (smallest) .. 100 (lossless only)."""
    return check_int_between("quality", quality, MIN_QUALITY, MAX_QUALITY)


def check_effort(effort: object) -> int:
    """Effort 1 (least CPU) .. 10 (fewest bytes)."""
    return check_int_between("effort", effort, MIN_EFFORT, MAX_EFFORT)


def check_target_score(target_score: object) -> float:
    """A SSIMULACRA2 score to reach, 30 .. 95."""
    return check_number_between("target_score", target_score, MIN_TARGET_SCORE, MAX_TARGET_SCORE)


def check_max_bytes(max_bytes: object) -> int:
    """A byte budget: an int of at least 1 (that fits the wire's uint64)."""
    if (
        isinstance(max_bytes, bool)
        or not isinstance(max_bytes, int)
        or not 1 <= max_bytes <= MAX_UINT64
    ):
        raise InvalidOptionsError(
            f"Expected integer at least 1 for max_bytes but received {max_bytes!r}"
        )
    return max_bytes


def check_id(name: str, value: object) -> str:
    """Return `value` if it is a non-empty string (an id), else raise InvalidOptionsError."""
    if not isinstance(value, str) or not value:
        raise InvalidOptionsError(f"Expected non-empty string for {name} but received {value!r}")
    return value


def check_timeout(name: str, value: object, *, allow_none: bool = True) -> float | None:
    """Return `value` if it is a number of seconds ≥ 0 (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidOptionsError(f"Expected non-negative number for {name} but received {value!r}")
    return float(value)


def _check_value(name: str, value: object, schema: Mapping[str, Any]) -> None:
    kind = schema.get("type")
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            check_int_between(name, value, low, high)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise InvalidOptionsError(f"Expected integer for {name} but received {value!r}")
        elif (low is not None and value < low) or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"at most {high}"
            raise InvalidOptionsError(f"Expected integer {bound} for {name} but received {value!r}")
    elif kind == "boolean":
        check_bool(name, value)
    elif kind == "string" and not isinstance(value, str):
        raise InvalidOptionsError(f"Expected string for {name} but received {value!r}")
    elif kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            check_number_between(name, value, low, high)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidOptionsError(f"Expected number for {name} but received {value!r}")


def check_body(
    body: Mapping[str, Any], parameters: Mapping[str, Mapping[str, Any]], route: str
) -> dict[str, Any]:
    """Check a route's body against its parameter schema (name → {"type", "minimum", ...}).

    Returns the body as a dict; raises InvalidOptionsError for an unknown key, a value of the wrong
    type, or a number out of its bounds.
    """
    if not isinstance(body, Mapping):
        raise InvalidOptionsError(f"Expected a mapping for body but received {body!r}")
    for name, value in body.items():
        if name not in parameters:
            expected = ", ".join(sorted(parameters)) or "none"
            raise InvalidOptionsError(
                f"Unknown parameter {name!r} for route {route} (expected: {expected})"
            )
        _check_value(name, value, parameters[name])
    return dict(body)
