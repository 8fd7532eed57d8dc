"""Asset bytes named by their SHA-256: the interface, and files `blobs/ab/abcdef…` in a directory.

A blob is complete before anyone can name it: the bytes are fsynced, linked (or copied and
renamed) into place and the directory fsynced, before the asset's row is committed. Blocking.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
import time
from typing import IO, TYPE_CHECKING, Protocol

from pixpress_server.settings import SettingsError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Blobs(Protocol):
    """Where asset bytes live: a directory (`BlobStore`) or an S3 bucket (`S3Blobs`).

    Reads of a missing blob raise FileNotFoundError.
    """

    def prepare(self) -> None: ...

    def exists(self, sha256: str) -> bool: ...

    def adopt(self, finished: Path, sha256: str) -> None:
        """Store the finished spool file's bytes as the blob (the file stays the caller's)."""

    def open(self, sha256: str, start: int = 0) -> IO[bytes]:
        """The bytes from `start`, for streaming: once open, a remove cannot cut them off."""

    def fetch(self, sha256: str, spare: Path) -> Path:
        """A file holding the bytes, for worker processes: the blob's own, or `spare` filled."""

    def remove(self, sha256: str) -> None: ...

    def stored(self) -> Iterator[str]:
        """The sha256 of every stored blob."""


def open_blobs(blob_url: str | None, blob_dir: Path) -> Blobs:
    """The S3 store for an `s3://` URL, else the directory; not prepared yet."""
    if blob_url is None:
        return BlobStore(blob_dir)
    from pixpress_server.s3blobs import S3Blobs  # boto3 loads only when used

    return S3Blobs(blob_url)


# link() errors that mean "not here": another filesystem, or one without hard links.
_CANNOT_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP})


class BlobStore:
    """Blob files in one directory, which replicas may share on a mount (NFS…) that keeps
    rename atomic and honours fsync: writers of the same bytes then all succeed, one file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Create the directory and write a file in it: fail at start, not at the first upload."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            descriptor, probe = tempfile.mkstemp(prefix=".probe-", dir=self.root)
            os.close(descriptor)
            os.unlink(probe)
            _fsync_directory(self.root)  # a mount that refuses it would fail every upload
        except OSError as error:
            reason = error.strerror or str(error)
            if self.root.exists() and not self.root.is_dir():
                reason = "it is not a directory"
            raise SettingsError(
                f"--blob-dir {self.root}: cannot create or write the blob directory: {reason}"
            ) from None

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str, start: int = 0) -> IO[bytes]:
        file = self.path_for(sha256).open("rb", buffering=0)
        file.seek(start)
        return file

    def fetch(self, sha256: str, spare: Path) -> Path:
        return self.path_for(sha256)  # read in place: a blob file is never rewritten

    def adopt(self, finished: Path, sha256: str) -> None:
        """Make the finished file `finished` the blob for `sha256`.

        The file is hard-linked, not moved: the caller keeps its own name for it (to stream
        it back, say) and removes that name when done, so deleting the asset meanwhile
        cannot pull the bytes from under the caller.
        """
        target = self.path_for(sha256)
        if target.is_file():
            return  # same content is already stored
        if not target.parent.is_dir():
            target.parent.mkdir(exist_ok=True)
            _fsync_directory(self.root)
        with finished.open("rb") as file:
            os.fsync(file.fileno())
        try:
            os.link(finished, target)
        except FileExistsError:
            return  # stored meanwhile by another writer of the same bytes
        except OSError as error:
            if error.errno not in _CANNOT_LINK:
                raise
            _copy_into_place(finished, target)
        _fsync_directory(target.parent)

    def remove(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def remove_leftovers(self, older_than: float) -> int:
        """Remove temporary files (a copy or a probe that a crash cut short) untouched for
        `older_than` seconds: another replica's copy in progress keeps touching its own."""
        cutoff = time.time() - older_than
        removed = 0
        for path in [*self.root.glob(".probe-*"), *self.root.glob("??/.*.part")]:
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # removed meanwhile by another sweep
        return removed

    def stored(self) -> Iterator[str]:
        """The sha256 of every blob on disk."""
        if not self.root.is_dir():
            return
        for directory in self.root.iterdir():
            if directory.is_dir() and len(directory.name) == 2:
                yield from (p.name for p in directory.iterdir() if p.is_file() and p.name[0] != ".")


def link_or_copy(source: Path, target: Path) -> None:
    """Give `source`'s bytes a second name `target` (a copy across filesystems)."""
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in _CANNOT_LINK:
            raise
        shutil.copyfile(source, target)


def _copy_into_place(source: Path, target: Path) -> None:
    """Copy beside the target, then rename: atomic on the target's own filesystem, and
    writers of the same bytes at once each replace an identical file."""
    partial = target.with_name(f".{target.name}.{secrets.token_hex(8)}.part")
    try:
        shutil.copyfile(source, partial)
        with partial.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
