"""Request and response bytes staged in files, so the gRPC process never holds a whole image.

Workers read the input file and write the output file; the servicers stream them in and
out in chunks. Files live under the data dir's tmp/ (on the same filesystem as the blob
store, so finished files are renamed into it) and are removed when the request ends,
whatever way it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class SpooledInput:
    """An input being received: appended chunk by chunk, counted, hashed, first bytes kept."""

    def __init__(self, path: Path, head_size: int, hashed: bool) -> None:
        self.path = path
        self.size = 0
        self._head_size = head_size
        self._head = bytearray()
        # Only uploads need the hash; Compress streams skip its CPU cost.
        self._digest = hashlib.sha256() if hashed else None
        self._file: BinaryIO = path.open("xb")

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    @property
    def sha256(self) -> str:
        assert self._digest is not None, "opened with hashed=False"
        return self._digest.hexdigest()

    async def write(self, chunk: bytes) -> None:
        """Append a chunk. The write and the hashing run in a thread (both release the GIL):
        on the event loop they delayed every other call by up to a chunk's hashing time, and
        a write can block for longer while the kernel flushes dirty pages."""
        if len(self._head) < self._head_size:
            self._head += chunk[: self._head_size - len(self._head)]
        await asyncio.to_thread(self._append, chunk)
        self.size += len(chunk)

    def _append(self, chunk: bytes) -> None:
        self._file.write(chunk)
        if self._digest is not None:
            self._digest.update(chunk)

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True, slots=True)
class RequestFiles:
    input: SpooledInput
    output: Path  # where a worker writes the result


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
    def request_files(self, head_size: int, hashed: bool = False) -> Iterator[RequestFiles]:
        stem = secrets.token_hex(8)
        files = RequestFiles(
            input=SpooledInput(self.directory / f"{stem}.in.part", head_size, hashed),
            output=self.directory / f"{stem}.out.part",
        )
        try:
            yield files
        finally:
            files.input.close()
            for path in (files.input.path, files.output):
                path.unlink(missing_ok=True)


def read_chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    """The file's bytes in pieces of at most chunk_size."""
    with path.open("rb", buffering=0) as file:
        while chunk := file.read(chunk_size):
            yield chunk
