"""Request and response bytes staged in files, so the gRPC process never holds a whole image.

Workers read the input file and write the output file; the servicer streams them in
and out in chunks. Files live under the data dir's tmp/ and are removed when the
request ends, whatever way it ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class SpooledInput:
    """An input image being received: appended chunk by chunk, counted, with its first bytes."""

    def __init__(self, path: Path, head_size: int) -> None:
        self.path = path
        self.size = 0
        self._head_size = head_size
        self._head = bytearray()
        self._file: BinaryIO = path.open("xb")

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    def write(self, chunk: bytes) -> None:
        if len(self._head) < self._head_size:
            self._head += chunk[: self._head_size - len(self._head)]
        self._file.write(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        self._file.close()


class Spool:
    """Allocates per-request file names under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def prepare(self) -> None:
        """Create the directory and remove what a previous run left behind."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob("*.part"):
            stale.unlink(missing_ok=True)

    @contextlib.contextmanager
    def request_files(self, head_size: int) -> Iterator[tuple[SpooledInput, Path]]:
        """An input being received and the path the output will be written to."""
        stem = secrets.token_hex(8)
        source = SpooledInput(self.directory / f"{stem}.in.part", head_size)
        destination = self.directory / f"{stem}.out.part"
        try:
            yield source, destination
        finally:
            source.close()
            source.path.unlink(missing_ok=True)
            destination.unlink(missing_ok=True)


def read_chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    """The file's bytes in pieces of at most chunk_size."""
    with path.open("rb", buffering=0) as file:
        while chunk := file.read(chunk_size):
            yield chunk


def file_size(path: Path) -> int:
    return os.stat(path).st_size
