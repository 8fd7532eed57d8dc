"""Lossless optimisers pixpress's q 100 must beat: jpegtran, oxipng (pyoxipng) and zopflipng.

jpegtran and zopflipng are Debian packages (libjpeg-turbo-progs, zopfli); a missing one is
skipped with the install command.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import oxipng

TIMEOUT = 600.0


def _jpegtran(source: Path, output: Path) -> None:
    # The smaller of Huffman-optimised baseline and progressive, metadata kept.
    best: bytes | None = None
    for mode in ("-optimize", "-progressive"):
        completed = subprocess.run(
            ["jpegtran", "-copy", "all", mode, str(source)],
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        )
        if best is None or len(completed.stdout) < len(best):
            best = completed.stdout
    assert best is not None
    output.write_bytes(best)


def _oxipng(source: Path, output: Path) -> None:
    oxipng.optimize(source, output, level=4)


def _zopflipng(source: Path, output: Path) -> None:
    subprocess.run(
        ["zopflipng", "-y", str(source), str(output)],
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )


Tool = Callable[[Path, Path], None]
TOOLS: dict[str, tuple[str, Tool, str | None]] = {
    # name: (input format, run, executable that must be on PATH)
    "jpegtran": ("jpeg", _jpegtran, "jpegtran"),
    "oxipng": ("png", _oxipng, None),
    "zopflipng": ("png", _zopflipng, "zopflipng"),
}
INSTALL_HINT = {
    "jpegtran": "apt-get install libjpeg-turbo-progs",
    "zopflipng": "apt-get install zopfli",
}


def missing(tool: str) -> str | None:
    """Why `tool` cannot run (with how to install it), or None."""
    executable = TOOLS[tool][2]
    if executable is not None and shutil.which(executable) is None:
        return f"{tool} skipped: not on PATH ({INSTALL_HINT[tool]})"
    return None


def run(tool: str, source: Path, output: Path) -> int:
    """Optimise `source` into `output` losslessly; its size."""
    TOOLS[tool][1](source, output)
    return output.stat().st_size
