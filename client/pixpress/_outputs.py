"""Where the CLI writes: output directories checked before any request, files written whole."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from pixpress._files import temporary_sibling

__all__ = ["OutputError", "prepare_directories", "write_atomically"]


class OutputError(Exception):
    """An output could not be written; names the output path, not the input."""

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        self.error = error
        super().__init__(f"{path}: {self.reason}")

    @property
    def reason(self) -> str:
        return self.error.strerror or str(self.error)


def prepare_directories(directories: Iterable[Path]) -> None:
    """Create each output directory and check it takes a new file, before anything is sent.

    A probe file is created and removed: permissions, read-only mounts and a file in the way
    all show up now rather than after every image was compressed.

    Raises:
        OutputError: naming the first directory that cannot be written.
    """
    for directory in directories:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = temporary_sibling(directory / "probe")
            with open(probe, "xb"):
                pass
            os.unlink(probe)
        except OSError as error:
            raise OutputError(directory, error) from None


def write_atomically(destination: Path, data: bytes, mode_from: Path | None = None) -> None:
    """Write via a temporary file in the same directory, so a reader never sees half a file.

    The new file gets the umask's mode, or `mode_from`'s permissions when replacing a file.

    Raises:
        OutputError: naming `destination`.
    """
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_sibling(destination)
        try:
            with open(temporary, "xb") as file:
                file.write(data)
            if mode_from is not None:
                shutil.copymode(mode_from, temporary)
            os.replace(temporary, destination)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise OutputError(destination, error) from None
