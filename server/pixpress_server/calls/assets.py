"""Asset calls: upload (streamed, within the byte cap and the owner's storage quota), find,
open the stored bytes, delete."""

from __future__ import annotations

import asyncio
from typing import IO, TYPE_CHECKING

from pixpress_server.calls.receive import receive_image
from pixpress_server.errors import NotFound
from pixpress_server.ids import checked_id
from pixpress_server.processing.formats import SNIFF_BYTES
from pixpress_server.store.records import AssetOrigin

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable

    from pixpress_server.admission import RequestQueue
    from pixpress_server.blobs import Blobs
    from pixpress_server.content import Contents
    from pixpress_server.routes import Route
    from pixpress_server.spool import Spool
    from pixpress_server.store.base import AssetStore
    from pixpress_server.store.records import AssetRecord


class AssetCalls:
    def __init__(
        self,
        store: AssetStore,
        blobs: Blobs,
        spool: Spool,
        queue: RequestQueue,
        max_input_bytes: int,
        contents: Contents,
        route: Route,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._spool = spool
        self._queue = queue
        self._max_input_bytes = max_input_bytes
        self._contents = contents
        self._route = route

    async def upload(
        self, owner: str, chunks: AsyncIterator[bytes], cancelled: Callable[[], bool]
    ) -> AssetRecord:
        """Store the streamed image as a new asset of `owner`; its record."""
        self._route.check_use(owner)  # assets exist to be inputs of the route
        with self._queue.slot(owner), self._spool.request_files(SNIFF_BYTES, hashed=True) as files:
            image_format = await receive_image(
                self._within_quota(chunks, owner), files.input, self._max_input_bytes, cancelled
            )
            # The bytes are durable in the blob store before the row names them.
            return await self._contents.add(
                owner,
                files.input.path,
                files.input.sha256,
                files.input.size,
                str(image_format),
                AssetOrigin.UPLOAD,
            )

    async def find(self, owner: str, asset_id: str) -> AssetRecord:
        asset = await self._store.get_asset(owner, checked_id(asset_id, "asset"))
        if asset is None:
            raise NotFound(f"no asset {asset_id}")
        return asset

    async def open(self, asset: AssetRecord, start: int = 0) -> IO[bytes]:
        """The asset's bytes from `start`, open for reading: once open, a delete cannot cut
        them off."""
        try:
            return await asyncio.to_thread(self._blobs.open, asset.sha256, start)
        except FileNotFoundError:  # deleted since found
            raise NotFound(f"no asset {asset.id}") from None

    async def delete(self, owner: str, asset_id: str) -> AssetRecord:
        deleted = await self._contents.delete(owner, checked_id(asset_id, "asset"))
        if deleted is None:
            raise NotFound(f"no asset {asset_id}")
        return deleted

    async def _within_quota(self, chunks: AsyncIterator[bytes], owner: str) -> AsyncIterator[bytes]:
        """The chunks, cut off (before being written) once they pass the storage quota."""
        allowance = await self._contents.allowance(owner)
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if allowance is not None and received > allowance:
                raise self._contents.quota_exceeded(await self._store.stored_bytes(owner), received)
            yield chunk


async def chunks_of(
    file: IO[bytes], chunk_size: int, length: int | None = None
) -> AsyncGenerator[bytes, None]:
    """The open file's bytes from where it stands, in pieces of at most chunk_size; closed
    after. `length` stops early (a Range request). Each read runs in a thread: the bytes
    may come over the network (S3)."""
    with file:
        remaining = length
        while remaining is None or remaining > 0:
            want = chunk_size if remaining is None else min(chunk_size, remaining)
            chunk = await asyncio.to_thread(file.read, want)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
