"""Content-addressed files for assets: `blobs/ab/abcdef…` named by their SHA-256.

A blob is complete before anyone can name it: the bytes are fsynced in a temp file,
renamed into place, and the directory fsynced, before the asset's row is committed.
"""

from __future__ import annotations

import os
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def adopt(self, staged: Path, sha256: str) -> Path:
        """Make the finished file `staged` the blob for `sha256` (moved, not copied)."""
        target = self.path_for(sha256)
        if target.is_file():
            staged.unlink(missing_ok=True)  # same content is already stored
            return target
        target.parent.mkdir(exist_ok=True)
        with staged.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(staged, target)
        _fsync_directory(target.parent)
        return target

    def copy_in(self, source: Path, sha256: str, staging: Path) -> Path:
        """Store a copy of `source` (which must stay where it is) as the blob for `sha256`."""
        if self.exists(sha256):
            return self.path_for(sha256)
        with source.open("rb") as reader, staging.open("xb") as writer:
            while chunk := reader.read(1024 * 1024):
                writer.write(chunk)
        return self.adopt(staging, sha256)

    def remove(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
