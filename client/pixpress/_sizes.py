"""Byte sizes as people write them ("200k", "1.5MB", "1MiB") for the CLI's --max-bytes."""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["parse_size"]

# SI letters are powers of 1000 and IEC ones of 1024, as in `du --si` and `du -h`; the
# trailing B is optional and case never matters.
_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?)?b?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in `text`: a whole number of bytes, or a number with a unit (k, M, G: powers of
    1000; KiB, MiB, GiB: powers of 1024). Raises ValueError unless it is a whole number of at
    least one byte."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"Expected a size such as 200000, 200k or 1MiB but received {text!r}")
    number, unit = match.groups()
    size = Fraction(number) * _UNITS[(unit or "").lower()]
    if size.denominator != 1 or size < 1:
        raise ValueError(f"Expected a whole number of bytes, at least 1, but received {text!r}")
    return int(size)
