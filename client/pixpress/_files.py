"""Local files the SDK writes: downloads streamed to a temporary sibling, renamed when whole."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from pixpress._convert import asset_from_pb
from pixpress._errors import InternalError
from pixpress._models import Asset
from pixpress.v1 import assets_pb2 as assets_pb

__all__ = ["DownloadWriter", "asset_file_name", "temporary_sibling"]

# Extensions for a download into a directory; any other format uses its own name.
_EXTENSIONS = {"jpeg": "jpg", "tiff": "tif"}


def temporary_sibling(destination: Path) -> Path:
    """A hidden, unique name next to `destination`: same file system, so os.replace is atomic."""
    return destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.tmp")


def asset_file_name(asset: Asset) -> str:
    """ID.EXT, the name of an asset downloaded into a directory."""
    return f"{asset.id}.{_EXTENSIONS.get(asset.format, asset.format)}"


class DownloadWriter:
    """Consumes a DownloadAsset stream (asset first, then chunks) into a temporary file.

    `commit` checks size and SHA-256 against the asset, then renames the file into place;
    leaving the block without committing removes it. A destination that is an existing
    directory receives ID.EXT. Shared by Client and AsyncClient.
    """

    def __init__(self, destination: str | os.PathLike[str]) -> None:
        self._destination = Path(destination)
        self._asset: Asset | None = None
        self._temporary: Path | None = None
        self._file: IO[bytes] | None = None
        self._hash = hashlib.sha256()
        self._size = 0

    def add(self, response: assets_pb.DownloadAssetResponse) -> None:
        """Take one message (blocking file I/O); InternalError if the stream breaks the contract."""
        kind = response.WhichOneof("payload")
        if self._asset is None:
            if kind != "asset":
                raise InternalError("server sent bytes before the asset message")
            self._asset = asset_from_pb(response.asset)
            if self._destination.is_dir():
                self._destination = self._destination / asset_file_name(self._asset)
            self._temporary = temporary_sibling(self._destination)
            self._file = open(self._temporary, "xb")  # noqa: SIM115 - closed by commit/__exit__
        elif kind == "chunk" and self._file is not None:
            self._file.write(response.chunk)
            self._hash.update(response.chunk)
            self._size += len(response.chunk)
        else:
            raise InternalError("server sent a second asset message")

    def commit(self) -> Path:
        """Check the bytes against the asset and rename into place; returns the path written."""
        if self._asset is None or self._file is None or self._temporary is None:
            raise InternalError("server closed the stream without the asset message")
        self._file.close()
        if self._size != self._asset.size:
            raise InternalError(f"server announced {self._asset.size} bytes but sent {self._size}")
        if self._asset.sha256 and self._hash.hexdigest() != self._asset.sha256.lower():
            raise InternalError("downloaded bytes do not match the asset's SHA-256")
        os.replace(self._temporary, self._destination)
        self._temporary = None
        return self._destination

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
        if self._temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary)
