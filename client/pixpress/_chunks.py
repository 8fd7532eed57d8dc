"""Split an input (bytes in memory, or a file read lazily) into chunks of a fixed size."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, TypeAlias

__all__ = ["Source", "is_path", "iter_bytes", "iter_file", "open_chunks"]

Source: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str]
"""What `compress` accepts: image bytes, or the path of an image file (a str is a path)."""


def iter_bytes(data: bytes | bytearray | memoryview, chunk_size: int) -> Iterator[bytes]:
    """Yield `data` in pieces of `chunk_size` bytes (the last may be shorter)."""
    view = memoryview(data).cast("B")
    for start in range(0, len(view), chunk_size):
        yield bytes(view[start : start + chunk_size])


def iter_file(file: IO[bytes], chunk_size: int) -> Iterator[bytes]:
    """Yield an open file's remaining bytes `chunk_size` at a time, never holding more."""
    while chunk := file.read(chunk_size):
        yield chunk


def is_path(source: Source) -> bool:
    """True when `source` names a file (a str is always a path, never image data)."""
    return isinstance(source, str | os.PathLike)


@contextlib.contextmanager
def open_chunks(source: Source, chunk_size: int) -> Iterator[Iterator[bytes]]:
    """Chunks of `source`; a file is opened now (so a missing file fails before any call)
    and closed when the block exits."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            yield iter_file(file, chunk_size)
    else:
        yield iter_bytes(source, chunk_size)
